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
        var bias = MaskToBias(op, query, attnMask, scoreShape, isCausal);
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

    /// <summary>
    /// An attention mask as the additive bias the kernels read (null for none): checked against
    /// the score shape [..., Lq, Lk]; a bool mask (true = attend) becomes 0 / −inf.
    /// </summary>
    private static Tensor? MaskToBias(string op, Tensor query, Tensor? attnMask, int[] scoreShape, bool isCausal)
    {
        if (attnMask is null)
            return null;
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
        return attnMask.DType != DType.Bool ? attnMask
            : attnMask.Device.IsGpu ? GpuMaskToBias(attnMask)
            : Where(attnMask, Tensor.Scalar(0f), Tensor.Scalar(float.NegativeInfinity));
    }

    /// <summary>
    /// Multi-head self-attention over a packed in-projection: <paramref name="qkv"/> [B, N, 3·E]
    /// holds q, k and v side by side (E = heads · headDim, each split into heads along its
    /// features, as a fused in-projection such as nn.MultiheadAttention's gives them). Returns
    /// softmax(q·kᵀ/√headDim + mask)·v with the heads merged, [B, N, E]: the values of chunking,
    /// splitting heads, <see cref="ScaledDotProductAttention"/> and merging heads, without their
    /// copies — the CPU kernel reads q, k and v in place, writes the merged output, and the backward
    /// writes the packed gradient directly (no slice gradients to zero-fill and add). The mask
    /// broadcasts to [B, heads, N, N] as for SDPA; a mask that requires a gradient, and other
    /// devices, take the composed path.
    /// </summary>
    public static Tensor PackedSelfAttention(Tensor qkv, int heads, Tensor? attnMask = null, bool isCausal = false)
    {
        const string op = "packed_self_attention";
        qkv.ExpectFloat(op, nameof(qkv));
        if (heads <= 0)
            throw new ArgumentOutOfRangeException(nameof(heads), heads, $"{op}: 'heads' expected a positive head count, found {heads}");
        if (qkv.Rank != 3 || qkv.Size(2) % (3 * heads) != 0)
            throw new TensorShapeException($"{op}: 'qkv' expected [batch, length, 3·heads·headDim] with {heads} heads, found shape {Shapes.Format(qkv.Shape)}", nameof(qkv));
        int batch = qkv.Size(0), length = qkv.Size(1), embed = qkv.Size(2) / 3, headDim = embed / heads;
        if (qkv.Device.IsGpu || attnMask is { RequiresGrad: true })
        {
            var parts = qkv.Chunk(3, -1);
            Tensor Split(Tensor x) => Permute(Reshape(x, batch, length, heads, headDim), 0, 2, 1, 3);
            var attended = ScaledDotProductAttention(Split(parts[0]), Split(parts[1]), Split(parts[2]), attnMask, isCausal);
            return Reshape(Permute(attended, 0, 2, 1, 3), batch, length, embed);
        }
        int[] scoreShape = [batch, heads, length, length];
        var bias = MaskToBias(op, qkv, attnMask, scoreShape, isCausal);
        float scale = 1f / MathF.Sqrt(headDim);
        Tensor x;
        using (GradMode.NoGrad())
            x = qkv.Contiguous();
        var output = Tensor.Allocate([batch, length, embed], DType.Float32, qkv.Device, zero: false);
        var logSumExp = Tensor.Allocate([batch * heads, length], DType.Float32, qkv.Device, zero: false);
        unsafe
        {
            var (q, k, v) = PackedRows(x.Pointer<float>(), length, embed, heads, headDim);
            var merged = new Kernels.Cpu.Attention.Rows(output.Pointer<float>(), (long)length * embed, headDim, heads, embed);
            Kernels.Cpu.Attention.Forward(q, k, v, BiasView(bias, scoreShape), batch * heads, length, length, headDim, headDim, scale, isCausal, merged, logSumExp.Pointer<float>());
        }
        return AutogradEngine.Record(output, op, [qkv], g =>
        {
            var gradOutput = g.Contiguous();
            var gradQkv = Tensor.Allocate(qkv.Shape, DType.Float32, qkv.Device, zero: false);
            unsafe
            {
                var (q, k, v) = PackedRows(x.Pointer<float>(), length, embed, heads, headDim);
                var (gq, gk, gv) = PackedRows(gradQkv.Pointer<float>(), length, embed, heads, headDim);
                var merged = new Kernels.Cpu.Attention.Rows(output.Pointer<float>(), (long)length * embed, headDim, heads, embed);
                var gradMerged = new Kernels.Cpu.Attention.Rows(gradOutput.Pointer<float>(), (long)length * embed, headDim, heads, embed);
                Kernels.Cpu.Attention.Backward(q, k, v, BiasView(bias, scoreShape), merged, logSumExp.Pointer<float>(), gradMerged,
                    batch * heads, length, length, headDim, headDim, scale, isCausal, gq, gk, gv, null);
            }
            return [gradQkv];
        });
    }

    /// <summary>The q, k and v row layouts inside a dense packed [B, N, 3·E] buffer.</summary>
    private static unsafe (Kernels.Cpu.Attention.Rows Q, Kernels.Cpu.Attention.Rows K, Kernels.Cpu.Attention.Rows V) PackedRows(float* data, int length, int embed, int heads, int headDim)
    {
        int rowStride = 3 * embed;
        long outerStride = (long)length * rowStride;
        return (new(data, outerStride, headDim, heads, rowStride), new(data + embed, outerStride, headDim, heads, rowStride), new(data + 2 * embed, outerStride, headDim, heads, rowStride));
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
