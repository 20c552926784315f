using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// The elementwise passes of batch norm (normalise + affine, input gradient) and the running
/// statistics. Each pass has two variants: Rows (grid.y over the batch · channel rows, so the
/// channel is found once per row; threads over the inner elements) for images, and Flat (a
/// grid-stride loop over all elements with a division per element) for small inner sizes
/// ([N, C] batch norm has inner size 1).
/// </summary>
public static partial class BatchNorm
{
    /// <summary>Inner sizes from this on use the Rows variants.</summary>
    public const int RowsFromInnerSize = 64;

    /// <summary>
    /// y = x · scale + shift with scale = invStd[c] · weight[c], shift = bias[c] - mean[c] · scale,
    /// as <see cref="Cpu.BatchNorm.NormalizeAffine"/> (an empty weight or bias view means 1 or 0).
    /// Grid (column blocks, rows), rows strided by gridDim.y. Overwrites y.
    /// </summary>
    [Kernel]
    public static void NormalizeAffineRows(
        // [batch, channels, inner]
        DeviceSpan<float> input,
        // [channels] each; weight and bias may be empty
        DeviceSpan<float> mean, DeviceSpan<float> invStd, DeviceSpan<float> weight, DeviceSpan<float> bias,
        int channelCount, int innerSize,
        // [batch, channels, inner]
        DeviceSpan<float> output)
    {
        int rowCount = output.Length / innerSize;
        for (int row = Grid.BlockY; row < rowCount; row += Grid.GridDimY)
        {
            int c = row % channelCount;
            float scale = invStd[c] * (weight.Length == 0 ? 1f : weight[c]);
            float shift = (bias.Length == 0 ? 0f : bias[c]) - mean[c] * scale;
            int start = row * innerSize;
            for (int i = Grid.GlobalX; i < innerSize; i += Grid.StrideX)
                output[start + i] = input[start + i] * scale + shift;
        }
    }

    /// <summary>The same as <see cref="NormalizeAffineRows"/>, grid-stride over every element.</summary>
    [Kernel]
    public static void NormalizeAffineFlat(
        // [batch, channels, inner]
        DeviceSpan<float> input,
        // [channels] each; weight and bias may be empty
        DeviceSpan<float> mean, DeviceSpan<float> invStd, DeviceSpan<float> weight, DeviceSpan<float> bias,
        int channelCount, int innerSize,
        // [batch, channels, inner]
        DeviceSpan<float> output)
    {
        for (int i = Grid.GlobalX; i < output.Length; i += Grid.StrideX)
        {
            int c = i / innerSize % channelCount;
            float scale = invStd[c] * (weight.Length == 0 ? 1f : weight[c]);
            float shift = (bias.Length == 0 ? 0f : bias[c]) - mean[c] * scale;
            output[i] = input[i] * scale + shift;
        }
    }

    /// <summary>
    /// gradInput = invStd[c]·weight[c] · (gradOutput - meanGrad[c] - x̂ · meanGradNormalized[c]),
    /// x̂ = (x - mean[c])·invStd[c] recomputed, as <see cref="Cpu.BatchNorm.BackwardInput"/>.
    /// Grid (column blocks, rows). Overwrites gradInput.
    /// </summary>
    [Kernel]
    public static void BackwardInputRows(
        // [batch, channels, inner] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> input,
        // [channels] each; weight may be empty
        DeviceSpan<float> mean, DeviceSpan<float> invStd, DeviceSpan<float> weight,
        DeviceSpan<float> meanGrad, DeviceSpan<float> meanGradNormalized,
        int channelCount, int innerSize,
        // [batch, channels, inner]
        DeviceSpan<float> gradInput)
    {
        int rowCount = gradInput.Length / innerSize;
        for (int row = Grid.BlockY; row < rowCount; row += Grid.GridDimY)
        {
            int c = row % channelCount;
            float s = invStd[c], m = mean[c], mg = meanGrad[c], mgx = meanGradNormalized[c];
            float scale = s * (weight.Length == 0 ? 1f : weight[c]);
            int start = row * innerSize;
            for (int i = Grid.GlobalX; i < innerSize; i += Grid.StrideX)
                gradInput[start + i] = scale * (gradOutput[start + i] - mg - (input[start + i] - m) * s * mgx);
        }
    }

    /// <summary>The same as <see cref="BackwardInputRows"/>, grid-stride over every element.</summary>
    [Kernel]
    public static void BackwardInputFlat(
        // [batch, channels, inner] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> input,
        // [channels] each; weight may be empty
        DeviceSpan<float> mean, DeviceSpan<float> invStd, DeviceSpan<float> weight,
        DeviceSpan<float> meanGrad, DeviceSpan<float> meanGradNormalized,
        int channelCount, int innerSize,
        // [batch, channels, inner]
        DeviceSpan<float> gradInput)
    {
        for (int i = Grid.GlobalX; i < gradInput.Length; i += Grid.StrideX)
        {
            int c = i / innerSize % channelCount;
            float s = invStd[c];
            float scale = s * (weight.Length == 0 ? 1f : weight[c]);
            gradInput[i] = scale * (gradOutput[i] - meanGrad[c] - (input[i] - mean[c]) * s * meanGradNormalized[c]);
        }
    }

    /// <summary>
    /// running = running · (1 - momentum) + batch · momentum for the mean and the (unbiased)
    /// variance, in the CPU op's float order. One thread per channel; updates in place.
    /// </summary>
    [Kernel]
    public static void UpdateRunningStatistics(
        // [channels] each
        DeviceSpan<float> batchMean, DeviceSpan<float> batchVariance,
        float momentum,
        // [channels] each, updated in place
        DeviceSpan<float> runningMean, DeviceSpan<float> runningVariance)
    {
        if (!Elementwise.Index(runningMean.Length, out int c))
            return;
        float keep = 1f - momentum;
        runningMean[c] = runningMean[c] * keep + batchMean[c] * momentum;
        runningVariance[c] = runningVariance[c] * keep + batchVariance[c] * momentum;
    }

    /// <summary>Normalise + affine over every element of <paramref name="output"/> (Rows or Flat by inner size).</summary>
    public static void Normalize(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<float> mean, DeviceSpan<float> invStd,
        DeviceSpan<float> weight, DeviceSpan<float> bias, int channelCount, int innerSize, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length == 0)
            return;
        bool rows = innerSize >= RowsFromInnerSize;
        launcher.Launch(typeof(BatchNorm).GetMethod(rows ? nameof(NormalizeAffineRows) : nameof(NormalizeAffineFlat))!,
            rows ? RowGrid(output.Length / innerSize, innerSize) : GridFor(output.Length), BlockSize,
            input, mean, invStd, weight, bias, channelCount, innerSize, output);
    }

    /// <summary>The input gradient over every element of <paramref name="gradInput"/> (Rows or Flat by inner size).</summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> input, DeviceSpan<float> mean,
        DeviceSpan<float> invStd, DeviceSpan<float> weight, DeviceSpan<float> meanGrad, DeviceSpan<float> meanGradNormalized,
        int channelCount, int innerSize, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (gradInput.Length == 0)
            return;
        bool rows = innerSize >= RowsFromInnerSize;
        launcher.Launch(typeof(BatchNorm).GetMethod(rows ? nameof(BackwardInputRows) : nameof(BackwardInputFlat))!,
            rows ? RowGrid(gradInput.Length / innerSize, innerSize) : GridFor(gradInput.Length), BlockSize,
            gradOutput, input, mean, invStd, weight, meanGrad, meanGradNormalized, channelCount, innerSize, gradInput);
    }

    /// <summary>Launches <see cref="UpdateRunningStatistics"/> over the channels.</summary>
    public static void UpdateRunning(KernelLauncher launcher, DeviceSpan<float> batchMean, DeviceSpan<float> batchVariance, float momentum,
        DeviceSpan<float> runningMean, DeviceSpan<float> runningVariance)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (runningMean.Length == 0)
            return;
        launcher.Launch(typeof(BatchNorm).GetMethod(nameof(UpdateRunningStatistics))!, (runningMean.Length + BlockSize - 1) / BlockSize, BlockSize,
            batchMean, batchVariance, momentum, runningMean, runningVariance);
    }

    /// <summary>(column blocks covering the inner size at about 4 per thread, rows capped at 65,535: the kernel strides over the rest).</summary>
    private static Dim3 RowGrid(int rowCount, int innerSize) =>
        new((innerSize + BlockSize * 4 - 1) / (BlockSize * 4), Math.Min(rowCount, 65_535));
}
