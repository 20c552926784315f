using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>Batch, layer and group norm, L2 normalisation and cosine similarity.</summary>
public static partial class Functional
{
    /// <summary>
    /// torch.nn.functional.batch_norm over input [N, C, ...]. Training: normalises with the batch
    /// mean and biased variance (combined over replicas by <paramref name="reducer"/>, SyncBN)
    /// and, when given, updates runningMean/runningVar in place with <paramref name="momentum"/>
    /// (the running variance uses the unbiased estimate). Evaluation: normalises with the running
    /// statistics, which are then required. weight and bias ([C]) are optional.
    /// </summary>
    public static unsafe Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, float momentum = 0.1f, float eps = 1e-5f, IBatchStatisticsReducer? reducer = null)
    {
        const string op = "batch_norm";
        input.ExpectFloat(op, "input");
        if (input.Rank < 2)
            throw new TensorShapeException($"{op}: 'input' expected shape [N, C, ...] (rank 2 or more), found {Shapes.Format(input.Shape)}", nameof(input));
        int batchSize = input.Size(0), channelCount = input.Size(1);
        int innerSize = channelCount == 0 || batchSize == 0 ? 0 : input.Numel / (batchSize * channelCount);
        CheckChannelVector(op, nameof(runningMean), runningMean, channelCount);
        CheckChannelVector(op, nameof(runningVar), runningVar, channelCount);
        CheckChannelVector(op, nameof(weight), weight, channelCount);
        CheckChannelVector(op, nameof(bias), bias, channelCount);
        CheckEps(op, eps);
        if ((runningMean is null) != (runningVar is null))
            throw new ArgumentException($"{op}: expected both 'runningMean' and 'runningVar' or neither, found only '{(runningMean is null ? "runningVar" : "runningMean")}'");
        if (!training && runningMean is null)
            throw new ArgumentException($"{op}: evaluation mode (training = false) expected 'runningMean' and 'runningVar', found none; pass them or use training = true");
        if (!float.IsFinite(momentum))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"{op}: 'momentum' expected a finite number, found {momentum}");
        reducer ??= LocalBatchStatisticsReducer.Instance;
        if (input.Device.IsGpu)
            return BatchNormGpu(input, runningMean, runningVar, weight, bias, training, momentum, eps, reducer, batchSize, channelCount, innerSize);

        var x = input.Contiguous();
        var mean = new float[channelCount];
        var invStd = new float[channelCount];
        long totalCount = 0;
        if (training)
        {
            var sum = new double[channelCount];
            var sumSquares = new double[channelCount];
            fixed (double* s = sum, s2 = sumSquares)
                Kernels.Cpu.BatchNorm.ChannelSums(x.Pointer<float>(), batchSize, channelCount, innerSize, s, s2);
            var total = reducer.Combine(new BatchStatistics((long)batchSize * innerSize, sum, sumSquares));
            totalCount = total.Count;
            if (totalCount <= 1)
                throw new TensorShapeException($"{op}: training expected more than 1 value per channel, found {totalCount} for input shape {Shapes.Format(input.Shape)}; use a larger batch or evaluation mode", nameof(input));
            var unbiased = new float[channelCount];
            for (int c = 0; c < channelCount; c++)
            {
                double mu = total.Sum[c] / totalCount;
                double variance = Math.Max(total.SumSquares[c] / totalCount - mu * mu, 0);
                mean[c] = (float)mu;
                invStd[c] = (float)(1.0 / Math.Sqrt(variance + eps));
                unbiased[c] = (float)(variance * totalCount / (totalCount - 1));
            }
            if (runningMean is not null)
            {
                using (GradMode.NoGrad())
                {
                    runningMean.CopyFrom(runningMean * (1f - momentum) + Tensor.FromArray(mean) * momentum);
                    runningVar!.CopyFrom(runningVar * (1f - momentum) + Tensor.FromArray(unbiased) * momentum);
                }
            }
        }
        else
        {
            runningMean!.ExpectFloat(op, nameof(runningMean));
            var rm = runningMean.ToArray();
            var rv = runningVar!.ToArray();
            for (int c = 0; c < channelCount; c++)
            {
                mean[c] = rm[c];
                invStd[c] = 1f / MathF.Sqrt(rv[c] + eps);
            }
        }

        // One pass for normalise + affine; the backward recomputes x̂ from x instead of storing it.
        var w = weight?.Contiguous();
        var b = bias?.Contiguous();
        var output = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
        fixed (float* m = mean, s = invStd)
            Kernels.Cpu.BatchNorm.NormalizeAffine(x.Pointer<float>(), m, s, w is null ? null : w.Pointer<float>(), b is null ? null : b.Pointer<float>(),
                batchSize, channelCount, innerSize, output.Pointer<float>());
        Tensor[] inputs = weight is null && bias is null ? [input] : weight is null ? [input, bias!] : bias is null ? [input, weight] : [input, weight, bias];
        return AutogradEngine.Record(output, op, inputs, g =>
        {
            var gradOutput = g.Contiguous();
            // Local sums: Σg is the bias gradient, Σg·x̂ the weight gradient; combined across
            // replicas (SyncBN) they give the input gradient.
            var sumGrad = new double[channelCount];
            var sumGradNormalized = new double[channelCount];
            fixed (double* sg = sumGrad, sgx = sumGradNormalized)
            fixed (float* m = mean, s = invStd)
                Kernels.Cpu.BatchNorm.GradientSums(gradOutput.Pointer<float>(), x.Pointer<float>(), m, s, batchSize, channelCount, innerSize, sg, sgx);
            var meanGrad = new float[channelCount];
            var meanGradNormalized = new float[channelCount];
            if (training)
            {
                var total = reducer.CombineGradients(new BatchGradientStatistics((double[])sumGrad.Clone(), (double[])sumGradNormalized.Clone()));
                for (int c = 0; c < channelCount; c++)
                {
                    meanGrad[c] = (float)(total.SumGrad[c] / totalCount);
                    meanGradNormalized[c] = (float)(total.SumGradNormalized[c] / totalCount);
                }
            }
            Tensor? gradInput = null;
            if (input.RequiresGrad)
            {
                gradInput = Tensor.Allocate(gradOutput.Shape, DType.Float32, gradOutput.Device, zero: false);
                fixed (float* m = mean, s = invStd, mg = meanGrad, mgx = meanGradNormalized)
                    Kernels.Cpu.BatchNorm.BackwardInput(gradOutput.Pointer<float>(), x.Pointer<float>(), m, s, w is null ? null : w.Pointer<float>(), mg, mgx,
                        batchSize, channelCount, innerSize, gradInput.Pointer<float>());
            }
            var gradWeight = weight is { RequiresGrad: true } ? Tensor.FromArray(sumGradNormalized.Select(v => (float)v).ToArray()) : null;
            var gradBias = bias is { RequiresGrad: true } ? Tensor.FromArray(sumGrad.Select(v => (float)v).ToArray()) : null;
            return weight is null && bias is null ? [gradInput] : weight is null ? [gradInput, gradBias] : bias is null ? [gradInput, gradWeight] : [gradInput, gradWeight, gradBias];
        });
    }

    /// <summary>
    /// torch.nn.functional.layer_norm: normalises over the trailing dims given by
    /// <paramref name="normalizedShape"/> (biased variance), then applies the optional elementwise
    /// weight and bias of that shape.
    /// </summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        const string op = "layer_norm";
        ArgumentNullException.ThrowIfNull(normalizedShape);
        input.ExpectFloat(op, "input");
        CheckEps(op, eps);
        int lead = input.Rank - normalizedShape.Length;
        if (normalizedShape.Length == 0 || lead < 0 || !Shapes.Equal(input.Shape[lead..], normalizedShape))
            throw new TensorShapeException($"{op}: 'normalizedShape' expected the trailing dims of the input of shape {Shapes.Format(input.Shape)} (non-empty), found {Shapes.Format(normalizedShape)}", nameof(normalizedShape));
        foreach (var (tensor, name) in new[] { (weight, nameof(weight)), (bias, nameof(bias)) })
        {
            if (tensor is null) continue;
            tensor.ExpectFloat(op, name);
            if (!Shapes.Equal(tensor.Shape, normalizedShape))
                throw new TensorShapeException($"{op}: '{name}' expected shape {Shapes.Format(normalizedShape)} (the normalized shape), found {Shapes.Format(tensor.Shape)}", name);
        }
        int length = Shapes.Numel(normalizedShape);
        int rows = length == 0 ? 0 : input.Numel / length;
        if (input.Device.IsGpu)
            return LayerNormGpu(input, rows, length, weight, bias, eps);
        return LayerNormCpu(input, rows, length, weight, bias, eps);
    }

    /// <summary>
    /// Layer norm on the CPU as one op: normalisation and affine in one pass forward; one pass
    /// backward for the input, weight and bias gradients (the normalised rows are recomputed from
    /// the input and the saved mean and rstd, so the op keeps no tensor of its own).
    /// </summary>
    private static unsafe Tensor LayerNormCpu(Tensor input, int rows, int length, Tensor? weight, Tensor? bias, float eps)
    {
        var x = input.Contiguous();
        var w = weight?.Contiguous();
        var b = bias?.Contiguous();
        var y = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
        var mean = new float[rows];
        var rstd = new float[rows];
        fixed (float* m = mean, s = rstd)
            Kernels.Cpu.LayerNorm.ForwardAffine(x.Pointer<float>(), rows, length, eps, w is null ? null : w.Pointer<float>(),
                b is null ? null : b.Pointer<float>(), y.Pointer<float>(), m, s);
        Tensor[] inputs = [input, .. weight is null ? Array.Empty<Tensor>() : [weight], .. bias is null ? Array.Empty<Tensor>() : [bias]];
        return AutogradEngine.Record(y, "layer_norm", inputs, g =>
        {
            var gradOutput = g.Contiguous();
            bool affineGrads = (weight?.RequiresGrad ?? false) || (bias?.RequiresGrad ?? false);
            var gradInput = input.RequiresGrad ? Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false) : null;
            int blocks = (rows + Kernels.Cpu.LayerNorm.AffineRowsPerBlock - 1) / Kernels.Cpu.LayerNorm.AffineRowsPerBlock;
            using var partials = affineGrads ? Tensor.Allocate([blocks, 2, length], DType.Float32, input.Device, zero: false) : null;
            fixed (float* m = mean, s = rstd)
                Kernels.Cpu.LayerNorm.BackwardAffine(gradOutput.Pointer<float>(), x.Pointer<float>(), m, s, w is null ? null : w.Pointer<float>(),
                    rows, length, gradInput is null ? null : gradInput.Pointer<float>(), partials is null ? null : partials.Pointer<float>());
            Tensor? gradWeight = null, gradBias = null;
            if (partials is not null)
            {
                // Block partial sums added in block order: the same bits for any thread count.
                var sums = new float[2 * length];
                var blockSums = partials.AsSpan<float>();
                for (int block = 0; block < blocks; block++)
                    System.Numerics.Tensors.TensorPrimitives.Add(sums, blockSums.Slice(block * 2 * length, 2 * length), sums);
                if (weight is { RequiresGrad: true })
                    gradWeight = Tensor.FromArray(sums[..length], weight.ShapeArray);
                if (bias is { RequiresGrad: true })
                    gradBias = Tensor.FromArray(sums[length..], bias.ShapeArray);
            }
            return [gradInput, .. weight is null ? Array.Empty<Tensor?>() : [gradWeight], .. bias is null ? Array.Empty<Tensor?>() : [gradBias]];
        });
    }

    /// <summary>
    /// torch.nn.functional.group_norm over input [N, C, ...]: the C channels are split into
    /// <paramref name="numGroups"/> groups, each normalised over its channels and spatial dims;
    /// then the optional per-channel weight and bias ([C]).
    /// </summary>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        const string op = "group_norm";
        input.ExpectFloat(op, "input");
        CheckEps(op, eps);
        if (input.Rank < 2)
            throw new TensorShapeException($"{op}: 'input' expected shape [N, C, ...] (rank 2 or more), found {Shapes.Format(input.Shape)}", nameof(input));
        int channelCount = input.Size(1);
        if (numGroups <= 0 || channelCount % numGroups != 0)
            throw new ArgumentOutOfRangeException(nameof(numGroups), numGroups, $"{op}: 'numGroups' expected a positive divisor of the channel count {channelCount}, found {numGroups}");
        CheckChannelVector(op, nameof(weight), weight, channelCount);
        CheckChannelVector(op, nameof(bias), bias, channelCount);
        int rows = input.Size(0) * numGroups;
        int length = rows == 0 ? 0 : input.Numel / rows;
        if (input.Device.IsGpu)
            return GroupNormGpu(input, numGroups, weight, bias, eps);
        var normalized = Reshape(NormalizeRows(Reshape(input, rows, length), rows, length, eps, op), input.ShapeArray);
        return ApplyAffine(normalized, weight, bias, ChannelShape(input.Rank, channelCount));
    }

    /// <summary>
    /// torch.nn.functional.normalize with p = 2: x / max(||x||_2, eps) along <paramref name="dim"/>.
    /// The gradient of a zero vector is taken as 0 (as PyTorch's norm backward does).
    /// </summary>
    public static Tensor Normalize(Tensor x, int dim = 1, float eps = 1e-12f)
    {
        const string op = "normalize";
        x.ExpectFloat(op, "input");
        CheckEps(op, eps);
        int d = Shapes.NormalizeDim(dim, x.Rank, op);
        if (x.Device.IsGpu)
            return NormalizeGpu(x, d, eps);
        return x / Clamp(L2Norm(x, d, op), min: eps);
    }

    /// <summary>
    /// torch.nn.functional.cosine_similarity: sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps))
    /// along <paramref name="dim"/>, with x1 and x2 broadcast together first.
    /// </summary>
    public static Tensor CosineSimilarity(Tensor x1, Tensor x2, int dim = 1, float eps = 1e-8f)
    {
        const string op = "cosine_similarity";
        x1.ExpectFloat(op, nameof(x1));
        x2.ExpectFloat(op, nameof(x2));
        CheckEps(op, eps);
        int[] shape = Shapes.Broadcast(x1.Shape, x2.Shape, op);
        if (x1.Device.IsGpu && Shapes.Equal(x1.Shape, x2.Shape))
        {
            CheckSameDevice(op, x1, x2);
            return CosineSimilarityGpu(x1, x2, Shapes.NormalizeDim(dim, shape.Length, op), eps);
        }
        if (!Shapes.Equal(x1.Shape, shape)) x1 = Expand(x1, shape);
        if (!Shapes.Equal(x2.Shape, shape)) x2 = Expand(x2, shape);
        int d = Shapes.NormalizeDim(dim, shape.Length, op);
        var a = x1 / ClampedL2Norm(x1, d, eps, op);
        var b = x2 / ClampedL2Norm(x2, d, eps, op);
        return Sum(a * b, d);
    }

    /// <summary>
    /// max(||x||_2, eps) along dim (kept). Its gradient is x / max(||x||, eps): exact above eps and,
    /// below it, the small leak PyTorch 1.13's cosine_similarity has (it clamps the saved norm in place).
    /// </summary>
    private static Tensor ClampedL2Norm(Tensor x, int dim, float eps, string op)
    {
        Tensor norm;
        using (GradMode.NoGrad())
            norm = Clamp(Sqrt(Sum(x * x, dim, keepDim: true)), min: eps);
        return AutogradEngine.Record(norm, op + ".norm", [x], g => [g * x / norm]);
    }

    /// <summary>||x||_2 along dim (kept); its gradient is x / norm, and 0 for a zero vector.</summary>
    private static Tensor L2Norm(Tensor x, int dim, string op)
    {
        Tensor norm;
        using (GradMode.NoGrad())
            norm = Sqrt(Sum(x * x, dim, keepDim: true));
        return AutogradEngine.Record(norm, op + ".norm", [x], g => [Where(Equal(norm, 0f), 0f, g * x / norm)]);
    }

    /// <summary>(x - mean) * rstd over each row of x viewed as [rows, length] (layer/group norm core).</summary>
    private static unsafe Tensor NormalizeRows(Tensor input, int rows, int length, float eps, string op)
    {
        var x = input.Contiguous();
        var normalized = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
        var mean = new float[rows];
        var rstd = new float[rows];
        fixed (float* m = mean, s = rstd)
            Kernels.Cpu.LayerNorm.Forward(x.Pointer<float>(), rows, length, eps, normalized.Pointer<float>(), m, s);
        return AutogradEngine.Record(normalized, op, [input], g =>
        {
            var gradOutput = g.Contiguous();
            var gradInput = Tensor.Allocate(gradOutput.Shape, DType.Float32, gradOutput.Device, zero: false);
            fixed (float* s = rstd)
                Kernels.Cpu.LayerNorm.Backward(gradOutput.Pointer<float>(), normalized.Pointer<float>(), s, rows, length, gradInput.Pointer<float>());
            return [gradInput];
        });
    }

    /// <summary>normalized * weight + bias, with weight and bias reshaped to <paramref name="shape"/> (either may be null).</summary>
    private static Tensor ApplyAffine(Tensor normalized, Tensor? weight, Tensor? bias, int[] shape)
    {
        var y = normalized;
        if (weight is not null) y = y * Reshape(weight, shape);
        if (bias is not null) y = y + Reshape(bias, shape);
        return y;
    }

    /// <summary>[C, 1, ..., 1]: a per-channel vector broadcast over [N, C, ...] of the given rank.</summary>
    private static int[] ChannelShape(int rank, int channelCount)
    {
        var shape = new int[rank - 1];
        Array.Fill(shape, 1);
        shape[0] = channelCount;
        return shape;
    }

    private static void CheckChannelVector(string op, string argument, Tensor? t, int channelCount)
    {
        if (t is null) return;
        t.ExpectFloat(op, argument);
        if (t.Rank != 1 || t.Size(0) != channelCount)
            throw new TensorShapeException($"{op}: '{argument}' expected shape [{channelCount}] (one value per channel of the input), found {Shapes.Format(t.Shape)}", argument);
    }

    private static void CheckEps(string op, float eps)
    {
        if (!(eps > 0) || float.IsInfinity(eps))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"{op}: 'eps' expected a positive finite number, found {eps}");
    }
}
