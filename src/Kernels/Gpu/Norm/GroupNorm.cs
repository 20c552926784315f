using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Group norm over dense [batch, channels, inner] data with its per-channel weight and bias fused
/// in: one block per (n, group) row of channelsPerGroup · inner values (statistics in double, as
/// <see cref="LayerNorm"/>), and the weight/bias gradients as per-channel sums over batch and
/// inner split over blocks like the batch-norm statistics (finished by
/// <see cref="LayerNorm.AffineGradientFinish"/>, which reads the same [2, channels, splits] layout).
/// </summary>
public static class GroupNorm
{
    /// <summary>
    /// y = (x - mean) · rstd · weight[c] + bias[c] per (n, group) row (either vector may be empty);
    /// writes mean and rstd per row. Grid = batch · groups. Overwrites y, mean, rstd.
    /// </summary>
    [Kernel]
    public static void ForwardAffineRows(
        // [batch, channels, inner]
        DeviceSpan<float> input,
        // [channels] each, or empty
        DeviceSpan<float> weight, DeviceSpan<float> bias,
        int groupCount, int channelsPerGroup, int innerSize, float eps,
        // [batch, channels, inner]
        DeviceSpan<float> output,
        // [batch · groups] each
        DeviceSpan<float> mean, DeviceSpan<float> rstd)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int row = Grid.BlockX;
        int length = channelsPerGroup * innerSize;
        int start = row * length;
        int firstChannel = row % groupCount * channelsPerGroup;
        double sum = 0;
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
            sum += input[start + j];
        double mu = BlockSum.Of(sum, scratch) / length;
        double squares = 0;
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            double d = input[start + j] - mu;
            squares += d * d;
        }
        squares = BlockSum.Of(squares, scratch);
        float m = (float)mu;
        float s = (float)(1.0 / Math.Sqrt(squares / length + eps));
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            int c = firstChannel + j / innerSize;
            float y = (input[start + j] - m) * s;
            if (weight.Length != 0)
                y *= weight[c];
            if (bias.Length != 0)
                y += bias[c];
            output[start + j] = y;
        }
        if (Grid.ThreadX == 0)
        {
            mean[row] = m;
            rstd[row] = s;
        }
    }

    /// <summary>
    /// gradInput = rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) per row with ĝ = gradOutput · weight[c]
    /// (weight may be empty) and x̂ recomputed. Grid = batch · groups. Overwrites gradInput.
    /// </summary>
    [Kernel]
    public static void BackwardAffineRows(
        // [batch, channels, inner] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> input,
        // [batch · groups] each
        DeviceSpan<float> mean, DeviceSpan<float> rstd,
        // [channels] or empty
        DeviceSpan<float> weight,
        int groupCount, int channelsPerGroup, int innerSize,
        // [batch, channels, inner]
        DeviceSpan<float> gradInput)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int row = Grid.BlockX;
        int length = channelsPerGroup * innerSize;
        int start = row * length;
        int firstChannel = row % groupCount * channelsPerGroup;
        float m = mean[row], s = rstd[row];
        double sum = 0, sumNormalized = 0;
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            float g = weight.Length == 0 ? gradOutput[start + j] : gradOutput[start + j] * weight[firstChannel + j / innerSize];
            sum += g;
            sumNormalized += (double)g * ((input[start + j] - m) * s);
        }
        float meanGrad = (float)(BlockSum.Of(sum, scratch) / length);
        float meanGradNormalized = (float)(BlockSum.Of(sumNormalized, scratch) / length);
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            float g = weight.Length == 0 ? gradOutput[start + j] : gradOutput[start + j] * weight[firstChannel + j / innerSize];
            gradInput[start + j] = s * (g - meanGrad - (input[start + j] - m) * s * meanGradNormalized);
        }
    }

    /// <summary>
    /// partials[0, c, split] = Σ gradOutput · x̂ and partials[1, c, split] = Σ gradOutput over the
    /// split's share of channel c (batch and inner), in double. Grid (splits, channels),
    /// <see cref="BatchNorm.BlockSize"/> threads.
    /// </summary>
    [Kernel]
    public static void AffineGradientPartial(
        // [batch, channels, inner] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> input,
        // [batch · groups] each
        DeviceSpan<float> mean, DeviceSpan<float> rstd,
        int batchSize, int channelsPerGroup, int innerSize,
        // [2, channels, splits]
        DeviceSpan<double> partials)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int channel = Grid.BlockY, split = Grid.BlockX, splitCount = Grid.GridDimX;
        int channelCount = Grid.GridDimY;
        int groupCount = channelCount / channelsPerGroup;
        int group = channel / channelsPerGroup;
        int perChannel = batchSize * innerSize;
        double sumNormalized = 0, sum = 0;
        for (int j = split * Grid.BlockDimX + Grid.ThreadX; j < perChannel; j += splitCount * Grid.BlockDimX)
        {
            int n = j / innerSize;
            int at = (n * channelCount + channel) * innerSize + (j - n * innerSize);
            int row = n * groupCount + group;
            float g = gradOutput[at];
            sumNormalized += (double)g * ((input[at] - mean[row]) * rstd[row]);
            sum += g;
        }
        sumNormalized = BlockSum.Of(sumNormalized, scratch);
        sum = BlockSum.Of(sum, scratch);
        if (Grid.ThreadX == 0)
        {
            partials[channel * splitCount + split] = sumNormalized;
            partials[(channelCount + channel) * splitCount + split] = sum;
        }
    }

    /// <summary>Launches <see cref="ForwardAffineRows"/>: one block per (n, group).</summary>
    public static void ForwardAffine(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<float> weight, DeviceSpan<float> bias,
        int batchSize, int groupCount, int channelsPerGroup, int innerSize, float eps,
        DeviceSpan<float> output, DeviceSpan<float> mean, DeviceSpan<float> rstd)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int length = channelsPerGroup * innerSize;
        if (batchSize == 0 || length == 0)
            return;
        launcher.Launch(typeof(GroupNorm).GetMethod(nameof(ForwardAffineRows))!, batchSize * groupCount, BlockSum.BlockSizeFor(length),
            input, weight, bias, groupCount, channelsPerGroup, innerSize, eps, output, mean, rstd);
    }

    /// <summary>Launches <see cref="BackwardAffineRows"/>: one block per (n, group).</summary>
    public static void BackwardAffine(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> input, DeviceSpan<float> mean,
        DeviceSpan<float> rstd, DeviceSpan<float> weight, int batchSize, int groupCount, int channelsPerGroup, int innerSize, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int length = channelsPerGroup * innerSize;
        if (batchSize == 0 || length == 0)
            return;
        launcher.Launch(typeof(GroupNorm).GetMethod(nameof(BackwardAffineRows))!, batchSize * groupCount, BlockSum.BlockSizeFor(length),
            gradOutput, input, mean, rstd, weight, groupCount, channelsPerGroup, innerSize, gradInput);
    }

    /// <summary>
    /// Weight and bias gradients ([channels], either view may be empty) with <paramref name="partials"/>
    /// of 2 · channels · <see cref="BatchNorm.SplitCount"/>(batch, inner) doubles as scratch.
    /// </summary>
    public static void AffineGradients(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> input, DeviceSpan<float> mean,
        DeviceSpan<float> rstd, int batchSize, int channelCount, int channelsPerGroup, int innerSize, DeviceSpan<double> partials,
        DeviceSpan<float> gradWeight, DeviceSpan<float> gradBias)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (channelCount == 0)
            return;
        int splits = BatchNorm.SplitCount(batchSize, innerSize);
        if (partials.Length < 2 * channelCount * splits)
            throw new ArgumentException($"group-norm affine gradient: expected scratch of {2 * channelCount * splits} doubles, found {partials.Length}", nameof(partials));
        launcher.Launch(typeof(GroupNorm).GetMethod(nameof(AffineGradientPartial))!, new Dim3(splits, channelCount), BatchNorm.BlockSize,
            gradOutput, input, mean, rstd, batchSize, channelsPerGroup, innerSize, partials);
        launcher.Launch(typeof(LayerNorm).GetMethod(nameof(LayerNorm.AffineGradientFinish))!, (channelCount + 127) / 128, 128,
            partials, channelCount, splits, gradWeight, gradBias);
    }
}
