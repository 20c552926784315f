using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>Fused scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention).</summary>
public static partial class Functional
{
    /// <summary>
    /// softmax(query·keyᵀ · scale + bias) · value for query [..., Lq, D], key [..., Lk, D],
    /// value [..., Lk, Dv] with identical leading (batch, head) dims; the result is [..., Lq, Dv].
    /// <paramref name="attnMask"/> broadcasts to [..., Lq, Lk]: a bool mask keeps positions where
    /// it is true (torch 2.x), a float mask is added to the scores (and gets a gradient when it
    /// requires one). <paramref name="isCausal"/> keeps key j for query i when j &lt;= i (top-left
    /// aligned, as torch) and cannot be combined with a mask. <paramref name="scale"/> defaults to
    /// 1/sqrt(D). Fully masked rows give zeros and no gradient instead of PyTorch's NaN.
    /// Computed by one fused kernel; the backward recomputes probabilities from the saved
    /// log-sum-exp.
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor query, Tensor key, Tensor value, Tensor? attnMask = null,
        bool isCausal = false, float? scale = null)
    {
        const string op = "scaled_dot_product_attention";
        query.ExpectFloat(op, nameof(query));
        key.ExpectFloat(op, nameof(key));
        value.ExpectFloat(op, nameof(value));
        CheckSameDevice(op, query, key, value);
        foreach (var (t, name) in new[] { (query, nameof(query)), (key, nameof(key)), (value, nameof(value)) })
            if (t.Rank < 2)
                throw new TensorShapeException($"{op}: '{name}' expected at least 2 dims [..., length, features], found shape {Shapes.Format(t.Shape)}", name);
        int[] batch = query.ShapeArray[..^2];
        if (!Shapes.Equal(key.Shape[..^2], batch) || !Shapes.Equal(value.Shape[..^2], batch))
            throw new TensorShapeException($"{op}: 'key' and 'value' expected the leading dims {Shapes.Format(batch)} of 'query' {Shapes.Format(query.Shape)}, found key {Shapes.Format(key.Shape)} and value {Shapes.Format(value.Shape)}; expand them first for broadcast heads", nameof(key));
        int queryLength = query.Size(-2), headDim = query.Size(-1), keyLength = key.Size(-2), valueDim = value.Size(-1);
        if (key.Size(-1) != headDim)
            throw new TensorShapeException($"{op}: 'key' expected feature size {headDim} (last dim of query {Shapes.Format(query.Shape)}), found {Shapes.Format(key.Shape)}", nameof(key));
        if (value.Size(-2) != keyLength)
            throw new TensorShapeException($"{op}: 'value' expected length {keyLength} (dim -2 of key {Shapes.Format(key.Shape)}), found {Shapes.Format(value.Shape)}", nameof(value));
        int[] scoreShape = [.. batch, queryLength, keyLength];
        Tensor? bias = null;
        if (attnMask is not null)
        {
            if (isCausal)
                throw new ArgumentException($"{op}: 'attnMask' must be null when isCausal is true (as in PyTorch), found a mask of shape {Shapes.Format(attnMask.Shape)}; fold the causal pattern into the mask instead", nameof(attnMask));
            if (attnMask.DType != DType.Bool && attnMask.DType != DType.Float32)
                throw new TensorDTypeException($"{op}: 'attnMask' expected a bool (true = attend) or float32 (additive) tensor, found {attnMask.DType.Name()}", nameof(attnMask));
            CheckSameDevice(op, query, attnMask);
            bool fits = attnMask.Rank <= scoreShape.Length;
            for (int i = 0; fits && i < attnMask.Rank; i++)
            {
                int size = attnMask.ShapeArray[i], target = scoreShape[scoreShape.Length - attnMask.Rank + i];
                fits = size == target || size == 1;
            }
            if (!fits)
                throw new TensorShapeException($"{op}: 'attnMask' of shape {Shapes.Format(attnMask.Shape)} is not broadcastable to the score shape {Shapes.Format(scoreShape)} ([..., Lq, Lk])", nameof(attnMask));
            bias = attnMask.DType != DType.Bool ? attnMask
                : attnMask.Device.IsGpu ? GpuMaskToBias(attnMask)
                : Where(attnMask, Tensor.Scalar(0f), Tensor.Scalar(float.NegativeInfinity));
        }
        float factor = scale ?? 1f / MathF.Sqrt(headDim);
        int batchCount = Shapes.Numel(batch);
        Tensor q, k, v;
        using (GradMode.NoGrad())
        {
            q = query.Contiguous();
            k = key.Contiguous();
            v = value.Contiguous();
        }
        int[] outShape = [.. batch, queryLength, valueDim];
        var output = Tensor.Allocate(outShape, DType.Float32, query.Device, zero: false);
        var logSumExp = Tensor.Allocate([batchCount, queryLength], DType.Float32, query.Device, zero: false);
        GpuBias? gpuBias = query.Device.IsGpu ? GpuBiasView(bias, scoreShape) : null;
        if (gpuBias is { } gb)
        {
            Kernels.Gpu.GpuAttention.Forward(query.Gpu.Launcher, q.DeviceView<float>(), k.DeviceView<float>(), v.DeviceView<float>(),
                gb.Data, gb.Offsets, gb.RowStride, gb.ColumnStride, batchCount, queryLength, keyLength, headDim, valueDim, factor, isCausal,
                output.DeviceView<float>(), logSumExp.DeviceView<float>());
        }
        else
        {
            unsafe
            {
                Kernels.Cpu.Attention.Forward(q.Pointer<float>(), k.Pointer<float>(), v.Pointer<float>(), BiasView(bias, scoreShape),
                    batchCount, queryLength, keyLength, headDim, valueDim, factor, isCausal, output.Pointer<float>(), logSumExp.Pointer<float>());
            }
        }
        bool biasGrad = bias is not null && attnMask!.DType == DType.Float32;
        Tensor[] inputs = biasGrad ? [query, key, value, bias!] : [query, key, value];
        return AutogradEngine.Record(output, op, inputs, g =>
        {
            var gradOutput = g.Contiguous();
            var gradQuery = Tensor.Allocate(query.Shape, DType.Float32, query.Device, zero: false);
            var gradKey = Tensor.Allocate(key.Shape, DType.Float32, key.Device, zero: false);
            var gradValue = Tensor.Allocate(value.Shape, DType.Float32, value.Device, zero: false);
            bool wantBias = biasGrad && bias!.RequiresGrad;
            if (gpuBias is { } gpu)
            {
                // The bias gradient is summed over its broadcast dims by the kernel (atomics through its strides), so no score-sized tensor.
                var delta = Tensor.Allocate([batchCount * queryLength], DType.Float32, query.Device, zero: false);
                var gradBias = wantBias ? Tensor.Zeros(bias!.Shape, DType.Float32, query.Device) : null;
                var gradBiasView = GpuBiasView(gradBias, scoreShape);
                Kernels.Gpu.GpuAttention.Backward(query.Gpu.Launcher, q.DeviceView<float>(), k.DeviceView<float>(), v.DeviceView<float>(),
                    gpu.Data, gpu.Offsets, gpu.RowStride, gpu.ColumnStride, output.DeviceView<float>(), logSumExp.DeviceView<float>(), gradOutput.DeviceView<float>(),
                    batchCount, queryLength, keyLength, headDim, valueDim, factor, isCausal, delta.DeviceView<float>(),
                    gradQuery.DeviceView<float>(), gradKey.DeviceView<float>(), gradValue.DeviceView<float>(),
                    gradBiasView.Data, gradBiasView.Offsets, gradBiasView.RowStride, gradBiasView.ColumnStride);
                GC.KeepAlive(gpu.OffsetsTensor);
                GC.KeepAlive(gradBiasView.OffsetsTensor);
                return biasGrad ? [gradQuery, gradKey, gradValue, gradBias] : [gradQuery, gradKey, gradValue];
            }
            var gradScores = wantBias ? Tensor.Allocate(scoreShape, DType.Float32, query.Device, zero: false) : null;
            unsafe
            {
                Kernels.Cpu.Attention.Backward(q.Pointer<float>(), k.Pointer<float>(), v.Pointer<float>(), BiasView(bias, scoreShape),
                    output.Pointer<float>(), logSumExp.Pointer<float>(), gradOutput.Pointer<float>(),
                    batchCount, queryLength, keyLength, headDim, valueDim, factor, isCausal,
                    gradQuery.Pointer<float>(), gradKey.Pointer<float>(), gradValue.Pointer<float>(),
                    gradScores is null ? null : gradScores.Pointer<float>());
            }
            return biasGrad
                ? [gradQuery, gradKey, gradValue, gradScores is null ? null : SumToShape(gradScores, bias!.ShapeArray)]
                : [gradQuery, gradKey, gradValue];
        });
    }

    /// <summary>The kernel's strided view of a bias broadcast to [batch..., Lq, Lk] (one offset per flattened batch index).</summary>
    private static unsafe Kernels.Cpu.Attention.Bias? BiasView(Tensor? bias, int[] scoreShape)
    {
        if (bias is null)
            return null;
        int[] strides = BroadcastStrides(bias, scoreShape);
        int batchRank = scoreShape.Length - 2;
        int batchCount = Shapes.Numel(scoreShape.AsSpan(0, batchRank));
        var offsets = new long[batchCount];
        for (int index = 0; index < batchCount; index++)
        {
            long offset = 0;
            int remaining = index;
            for (int d = batchRank - 1; d >= 0; d--)
            {
                offset += (long)(remaining % scoreShape[d]) * strides[d];
                remaining /= scoreShape[d];
            }
            offsets[index] = offset;
        }
        return new Kernels.Cpu.Attention.Bias(bias.Pointer<float>(), offsets, strides[^2], strides[^1]);
    }
}
