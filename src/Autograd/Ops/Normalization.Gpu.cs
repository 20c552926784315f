using System.Runtime.InteropServices;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;
using GpuBatchNorm = Tessera.Kernels.Gpu.BatchNorm;
using GpuLayerNorm = Tessera.Kernels.Gpu.LayerNorm;

namespace Tessera.Autograd;

/// <summary>
/// The GPU paths of batch, layer and group norm, normalize and cosine similarity: the same
/// validation and the same host arithmetic on per-channel vectors as the CPU paths, with the
/// passes over the activations on the device (affine parts fused into the row kernels). SyncBN: the per-device sums come back to the host (2 · C doubles),
/// the reducer combines them as on the CPU, and the per-channel results go back to the device.
/// </summary>
public static partial class Functional
{
    private static Tensor BatchNormGpu(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, float momentum, float eps, IBatchStatisticsReducer reducer, int batchSize, int channelCount, int innerSize)
    {
        const string op = "batch_norm";
        CheckSameDevice(op, [input, .. new[] { runningMean, runningVar, weight, bias }.OfType<Tensor>()]);
        Device device = input.Device;
        GpuContext gpu = input.Gpu;
        var x = input.Contiguous();
        var mean = new float[channelCount];
        var invStd = new float[channelCount];
        long totalCount = 0;
        if (training)
        {
            var sums = DeviceSums(gpu, channelCount, batchSize, innerSize, (partials, result) =>
                GpuBatchNorm.ChannelSums(gpu.Launcher, x.DeviceView<float>(), batchSize, channelCount, innerSize, partials, result));
            var total = reducer.Combine(new BatchStatistics((long)batchSize * innerSize, sums[..channelCount], sums[channelCount..]));
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
                var rm = runningMean.Contiguous();
                var rv = runningVar!.Contiguous();
                using (var batchMean = Tensor.FromArray(mean).To(device))
                using (var batchVariance = Tensor.FromArray(unbiased).To(device))
                    GpuBatchNorm.UpdateRunning(gpu.Launcher, batchMean.DeviceView<float>(), batchVariance.DeviceView<float>(), momentum, rm.DeviceView<float>(), rv.DeviceView<float>());
                using (GradMode.NoGrad())
                {
                    if (!ReferenceEquals(rm, runningMean)) runningMean.CopyFrom(rm);
                    if (!ReferenceEquals(rv, runningVar)) runningVar.CopyFrom(rv);
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

        var w = weight?.Contiguous();
        var b = bias?.Contiguous();
        var meanOnDevice = Tensor.FromArray(mean).To(device);
        var invStdOnDevice = Tensor.FromArray(invStd).To(device);
        var output = Tensor.Allocate(input.Shape, DType.Float32, device, zero: false);
        GpuBatchNorm.Normalize(gpu.Launcher, x.DeviceView<float>(), meanOnDevice.DeviceView<float>(), invStdOnDevice.DeviceView<float>(),
            ViewOrEmpty(w), ViewOrEmpty(b), channelCount, innerSize, output.DeviceView<float>());
        Tensor[] inputs = weight is null && bias is null ? [input] : weight is null ? [input, bias!] : bias is null ? [input, weight] : [input, weight, bias];
        return AutogradEngine.Record(output, op, inputs, g =>
        {
            var gradOutput = g.Contiguous();
            var sums = DeviceSums(gpu, channelCount, batchSize, innerSize, (partials, result) =>
                GpuBatchNorm.GradientSums(gpu.Launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), meanOnDevice.DeviceView<float>(),
                    batchSize, channelCount, innerSize, partials, result));
            var sumGrad = sums[..channelCount];
            var sumGradNormalized = sums[channelCount..];
            for (int c = 0; c < channelCount; c++)
                sumGradNormalized[c] *= invStd[c];
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
                gradInput = Tensor.Allocate(gradOutput.Shape, DType.Float32, device, zero: false);
                using var mg = Tensor.FromArray(meanGrad).To(device);
                using var mgx = Tensor.FromArray(meanGradNormalized).To(device);
                GpuBatchNorm.Backward(gpu.Launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), meanOnDevice.DeviceView<float>(),
                    invStdOnDevice.DeviceView<float>(), ViewOrEmpty(w), mg.DeviceView<float>(), mgx.DeviceView<float>(), channelCount, innerSize,
                    gradInput.DeviceView<float>());
            }
            var gradWeight = weight is { RequiresGrad: true } ? Tensor.FromArray(sumGradNormalized.Select(v => (float)v).ToArray()).To(device) : null;
            var gradBias = bias is { RequiresGrad: true } ? Tensor.FromArray(sumGrad.Select(v => (float)v).ToArray()).To(device) : null;
            return weight is null && bias is null ? [gradInput] : weight is null ? [gradInput, gradBias] : bias is null ? [gradInput, gradWeight] : [gradInput, gradWeight, gradBias];
        });
    }

    /// <summary>layer_norm on the GPU with the weight and bias fused into the row kernels.</summary>
    private static Tensor LayerNormGpu(Tensor input, int rows, int length, Tensor? weight, Tensor? bias, float eps)
    {
        const string op = "layer_norm";
        CheckSameDevice(op, [input, .. new[] { weight, bias }.OfType<Tensor>()]);
        GpuContext gpu = input.Gpu;
        var x = input.Contiguous();
        var w = weight?.Contiguous();
        var b = bias?.Contiguous();
        var output = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
        var mean = Tensor.Allocate([rows], DType.Float32, input.Device, zero: false);
        var rstd = Tensor.Allocate([rows], DType.Float32, input.Device, zero: false);
        GpuLayerNorm.ForwardAffine(gpu.Launcher, x.DeviceView<float>(), ViewOrEmpty(w), ViewOrEmpty(b), rows, length, eps,
            output.DeviceView<float>(), mean.DeviceView<float>(), rstd.DeviceView<float>());
        Tensor[] inputs = weight is null && bias is null ? [input] : weight is null ? [input, bias!] : bias is null ? [input, weight] : [input, weight, bias];
        return AutogradEngine.Record(output, op, inputs, g =>
        {
            var gradOutput = g.Contiguous();
            Tensor? gradInput = null, gradWeight = null, gradBias = null;
            if (input.RequiresGrad)
            {
                gradInput = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
                GpuLayerNorm.BackwardAffine(gpu.Launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), mean.DeviceView<float>(), rstd.DeviceView<float>(),
                    ViewOrEmpty(w), rows, length, gradInput.DeviceView<float>());
            }
            if (weight is { RequiresGrad: true } || bias is { RequiresGrad: true })
            {
                if (weight is { RequiresGrad: true }) gradWeight = Tensor.Allocate(weight.Shape, DType.Float32, input.Device, zero: false);
                if (bias is { RequiresGrad: true }) gradBias = Tensor.Allocate(bias.Shape, DType.Float32, input.Device, zero: false);
                int partialCount = 2 * length * GpuLayerNorm.RowSplits(rows);
                GpuStorage partials = gpu.Allocate((long)partialCount * sizeof(double), zero: false);
                try
                {
                    GpuLayerNorm.AffineGradients(gpu.Launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), mean.DeviceView<float>(), rstd.DeviceView<float>(),
                        rows, length, DeviceSpan<double>.FromAddress(partials.Pointer.Address, partialCount), ViewOrEmpty(gradWeight), ViewOrEmpty(gradBias));
                }
                finally
                {
                    partials.Release();
                }
            }
            return weight is null && bias is null ? [gradInput] : weight is null ? [gradInput, gradBias] : bias is null ? [gradInput, gradWeight] : [gradInput, gradWeight, gradBias];
        });
    }

    /// <summary>group_norm on the GPU with the per-channel weight and bias fused into the row kernels.</summary>
    private static Tensor GroupNormGpu(Tensor input, int numGroups, Tensor? weight, Tensor? bias, float eps)
    {
        const string op = "group_norm";
        CheckSameDevice(op, [input, .. new[] { weight, bias }.OfType<Tensor>()]);
        GpuContext gpu = input.Gpu;
        int batchSize = input.Size(0), channelCount = input.Size(1);
        int channelsPerGroup = channelCount / numGroups;
        int innerSize = batchSize * channelCount == 0 ? 0 : input.Numel / (batchSize * channelCount);
        int rows = batchSize * numGroups;
        var x = input.Contiguous();
        var w = weight?.Contiguous();
        var b = bias?.Contiguous();
        var output = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
        var mean = Tensor.Allocate([rows], DType.Float32, input.Device, zero: false);
        var rstd = Tensor.Allocate([rows], DType.Float32, input.Device, zero: false);
        Kernels.Gpu.GroupNorm.ForwardAffine(gpu.Launcher, x.DeviceView<float>(), ViewOrEmpty(w), ViewOrEmpty(b), batchSize, numGroups, channelsPerGroup, innerSize, eps,
            output.DeviceView<float>(), mean.DeviceView<float>(), rstd.DeviceView<float>());
        Tensor[] inputs = weight is null && bias is null ? [input] : weight is null ? [input, bias!] : bias is null ? [input, weight] : [input, weight, bias];
        return AutogradEngine.Record(output, op, inputs, g =>
        {
            var gradOutput = g.Contiguous();
            Tensor? gradInput = null, gradWeight = null, gradBias = null;
            if (input.RequiresGrad)
            {
                gradInput = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
                Kernels.Gpu.GroupNorm.BackwardAffine(gpu.Launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), mean.DeviceView<float>(), rstd.DeviceView<float>(),
                    ViewOrEmpty(w), batchSize, numGroups, channelsPerGroup, innerSize, gradInput.DeviceView<float>());
            }
            if (weight is { RequiresGrad: true } || bias is { RequiresGrad: true })
            {
                if (weight is { RequiresGrad: true }) gradWeight = Tensor.Allocate(weight.Shape, DType.Float32, input.Device, zero: false);
                if (bias is { RequiresGrad: true }) gradBias = Tensor.Allocate(bias.Shape, DType.Float32, input.Device, zero: false);
                int partialCount = 2 * channelCount * GpuBatchNorm.SplitCount(batchSize, innerSize);
                GpuStorage partials = gpu.Allocate((long)partialCount * sizeof(double), zero: false);
                try
                {
                    Kernels.Gpu.GroupNorm.AffineGradients(gpu.Launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), mean.DeviceView<float>(), rstd.DeviceView<float>(),
                        batchSize, channelCount, channelsPerGroup, innerSize, DeviceSpan<double>.FromAddress(partials.Pointer.Address, partialCount),
                        ViewOrEmpty(gradWeight), ViewOrEmpty(gradBias));
                }
                finally
                {
                    partials.Release();
                }
            }
            return weight is null && bias is null ? [gradInput] : weight is null ? [gradInput, gradBias] : bias is null ? [gradInput, gradWeight] : [gradInput, gradWeight, gradBias];
        });
    }

    /// <summary>normalize along dim <paramref name="dim"/> on the GPU (x viewed as [outer, length, inner]).</summary>
    private static Tensor NormalizeGpu(Tensor input, int dim, float eps)
    {
        var x = input.Contiguous();
        GpuContext gpu = input.Gpu;
        var (length, innerSize) = (input.Size(dim), Shapes.Numel(input.ShapeArray[(dim + 1)..]));
        int positions = length == 0 ? 0 : input.Numel / length;
        var output = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
        var norms = Tensor.Allocate([positions], DType.Float32, input.Device, zero: false);
        Kernels.Gpu.Normalize.Forward(gpu.Launcher, x.DeviceView<float>(), length, innerSize, eps, output.DeviceView<float>(), norms.DeviceView<float>());
        return AutogradEngine.Record(output, "normalize", [input], g =>
        {
            var gradOutput = g.Contiguous();
            var gradInput = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
            Kernels.Gpu.Normalize.Backward(gpu.Launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), norms.DeviceView<float>(), length, innerSize, eps,
                gradInput.DeviceView<float>());
            return [gradInput];
        });
    }

    /// <summary>cosine_similarity of two same-shape GPU tensors along <paramref name="dim"/>.</summary>
    private static Tensor CosineSimilarityGpu(Tensor x1, Tensor x2, int dim, float eps)
    {
        var a = x1.Contiguous();
        var b = x2.Contiguous();
        GpuContext gpu = x1.Gpu;
        var (length, innerSize) = (x1.Size(dim), Shapes.Numel(x1.ShapeArray[(dim + 1)..]));
        int[] outputShape = [.. x1.ShapeArray[..dim], .. x1.ShapeArray[(dim + 1)..]];
        var output = Tensor.Allocate(outputShape, DType.Float32, x1.Device, zero: false);
        var saved = Tensor.Allocate([output.Numel, 3], DType.Float32, x1.Device, zero: false);
        Kernels.Gpu.CosineSimilarity.Forward(gpu.Launcher, a.DeviceView<float>(), b.DeviceView<float>(), length, innerSize, eps,
            output.DeviceView<float>(), saved.DeviceView<float>());
        return AutogradEngine.Record(output, "cosine_similarity", [x1, x2], g =>
        {
            var gradOutput = g.Contiguous();
            var gradFirst = x1.RequiresGrad ? Tensor.Allocate(x1.Shape, DType.Float32, x1.Device, zero: false) : null;
            var gradSecond = x2.RequiresGrad ? Tensor.Allocate(x2.Shape, DType.Float32, x2.Device, zero: false) : null;
            Kernels.Gpu.CosineSimilarity.Backward(gpu.Launcher, a.DeviceView<float>(), b.DeviceView<float>(), gradOutput.DeviceView<float>(), saved.DeviceView<float>(),
                length, innerSize, gradFirst is null ? default : gradFirst.DeviceView<float>(), gradSecond is null ? default : gradSecond.DeviceView<float>());
            return [gradFirst, gradSecond];
        });
    }

    /// <summary>A contiguous optional tensor's view, or an empty view (the kernels' "absent").</summary>
    private static DeviceSpan<float> ViewOrEmpty(Tensor? t) => t is null ? default : t.DeviceView<float>();

    /// <summary>
    /// Runs a two-pass statistics launch with device scratch (partials, then 2 · C sums) and copies
    /// the 2 · C double sums back to the host.
    /// </summary>
    private static double[] DeviceSums(GpuContext gpu, int channelCount, int batchSize, int innerSize, Action<DeviceSpan<double>, DeviceSpan<double>> launch)
    {
        int partialCount = 2 * channelCount * GpuBatchNorm.SplitCount(batchSize, innerSize);
        GpuStorage partials = gpu.Allocate((long)partialCount * sizeof(double), zero: false);
        GpuStorage sums = gpu.Allocate(2L * channelCount * sizeof(double), zero: false);
        try
        {
            launch(DeviceSpan<double>.FromAddress(partials.Pointer.Address, partialCount), DeviceSpan<double>.FromAddress(sums.Pointer.Address, 2 * channelCount));
            var result = new double[2 * channelCount];
            gpu.CopyToHost(MemoryMarshal.AsBytes(result.AsSpan()), sums.Pointer);
            return result;
        }
        finally
        {
            partials.Release();
            sums.Release();
        }
    }
}
