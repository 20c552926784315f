using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Batch-norm kernels over dense [batch, channels, inner] float32 data, the GPU side of
/// <see cref="Cpu.BatchNorm"/>. Per-channel statistics are two-pass block reductions: a grid of
/// (splits, channels) blocks each sums a strided part of one channel in double and writes a
/// partial; <see cref="SumSplits"/> adds the partials of each channel in a fixed order (so the
/// result does not depend on scheduling). The per-channel sums go back to the host, where the
/// SyncBN reducer combines them as on the CPU; the normalise and backward passes then run on the
/// device with the per-channel vectors the host computed.
/// </summary>
public static partial class BatchNorm
{
    /// <summary>Threads per block of the reduction and elementwise kernels.</summary>
    public const int BlockSize = 256;

    /// <summary>Most blocks one channel's reduction is split over.</summary>
    public const int MaxSplits = 64;

    /// <summary>
    /// partials[0, c, split] = Σ x and partials[1, c, split] = Σ x² over the split's share of
    /// channel c (batch and inner), in double. Grid (splits, channels), <see cref="BlockSize"/> threads.
    /// </summary>
    [Kernel]
    public static void ChannelSumsPartial(
        // [batch, channels, inner]
        DeviceSpan<float> input,
        int batchSize, int channelCount, int innerSize,
        // [2, channels, splits]
        DeviceSpan<double> partials)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int channel = Grid.BlockY, split = Grid.BlockX, splitCount = Grid.GridDimX;
        int perChannel = batchSize * innerSize;
        double sum = 0, squares = 0;
        for (int j = split * Grid.BlockDimX + Grid.ThreadX; j < perChannel; j += splitCount * Grid.BlockDimX)
        {
            int n = j / innerSize;
            double v = input[(n * channelCount + channel) * innerSize + (j - n * innerSize)];
            sum += v;
            squares += v * v;
        }
        sum = BlockSum.Of(sum, scratch);
        squares = BlockSum.Of(squares, scratch);
        if (Grid.ThreadX == 0)
        {
            partials[channel * splitCount + split] = sum;
            partials[(channelCount + channel) * splitCount + split] = squares;
        }
    }

    /// <summary>
    /// partials[0, c, split] = Σ gradOutput and partials[1, c, split] = Σ gradOutput · (x - mean[c])
    /// over the split's share of channel c, in double (the host multiplies the second by invStd).
    /// Grid (splits, channels), <see cref="BlockSize"/> threads.
    /// </summary>
    [Kernel]
    public static void GradientSumsPartial(
        // [batch, channels, inner]
        DeviceSpan<float> gradOutput,
        DeviceSpan<float> input,
        // [channels]
        DeviceSpan<float> mean,
        int batchSize, int channelCount, int innerSize,
        // [2, channels, splits]
        DeviceSpan<double> partials)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int channel = Grid.BlockY, split = Grid.BlockX, splitCount = Grid.GridDimX;
        int perChannel = batchSize * innerSize;
        float m = mean[channel];
        double sum = 0, sumCentered = 0;
        for (int j = split * Grid.BlockDimX + Grid.ThreadX; j < perChannel; j += splitCount * Grid.BlockDimX)
        {
            int n = j / innerSize;
            int at = (n * channelCount + channel) * innerSize + (j - n * innerSize);
            float g = gradOutput[at];
            sum += g;
            sumCentered += (double)(g * (input[at] - m));
        }
        sum = BlockSum.Of(sum, scratch);
        sumCentered = BlockSum.Of(sumCentered, scratch);
        if (Grid.ThreadX == 0)
        {
            partials[channel * splitCount + split] = sum;
            partials[(channelCount + channel) * splitCount + split] = sumCentered;
        }
    }

    /// <summary>sums[r] = Σ_split partials[r, split], in split order; one thread per row r. Overwrites sums.</summary>
    [Kernel]
    public static void SumSplits(
        // [rows, splits]
        DeviceSpan<double> partials,
        int rowCount, int splitCount,
        // [rows]
        DeviceSpan<double> sums)
    {
        if (!Elementwise.Index(rowCount, out int r))
            return;
        double total = 0;
        for (int s = 0; s < splitCount; s++)
            total += partials[r * splitCount + s];
        sums[r] = total;
    }

    /// <summary>Blocks per channel for the statistics of batchSize · innerSize values: about 16 values per thread, at most <see cref="MaxSplits"/>.</summary>
    public static int SplitCount(int batchSize, int innerSize)
    {
        long perChannel = (long)batchSize * innerSize;
        return (int)Math.Clamp((perChannel + BlockSize * 16 - 1) / (BlockSize * 16), 1, MaxSplits);
    }

    /// <summary>
    /// sums[0, c] = Σ x, sums[1, c] = Σ x² per channel (overwrites sums), using partials of
    /// 2 · channels · <see cref="SplitCount"/> doubles as scratch.
    /// </summary>
    public static void ChannelSums(KernelLauncher launcher, DeviceSpan<float> input, int batchSize, int channelCount, int innerSize,
        DeviceSpan<double> partials, DeviceSpan<double> sums)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int splits = SplitCount(batchSize, innerSize);
        CheckScratch(partials, sums, channelCount, splits);
        launcher.Launch(typeof(BatchNorm).GetMethod(nameof(ChannelSumsPartial))!, new Dim3(splits, channelCount), BlockSize,
            input, batchSize, channelCount, innerSize, partials);
        FinishSums(launcher, partials, 2 * channelCount, splits, sums);
    }

    /// <summary>
    /// sums[0, c] = Σ gradOutput, sums[1, c] = Σ gradOutput · (x - mean[c]) per channel (overwrites
    /// sums; multiply the second by invStd[c] for Σ gradOutput · x̂), with partials as in <see cref="ChannelSums"/>.
    /// </summary>
    public static void GradientSums(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> input, DeviceSpan<float> mean,
        int batchSize, int channelCount, int innerSize, DeviceSpan<double> partials, DeviceSpan<double> sums)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int splits = SplitCount(batchSize, innerSize);
        CheckScratch(partials, sums, channelCount, splits);
        launcher.Launch(typeof(BatchNorm).GetMethod(nameof(GradientSumsPartial))!, new Dim3(splits, channelCount), BlockSize,
            gradOutput, input, mean, batchSize, channelCount, innerSize, partials);
        FinishSums(launcher, partials, 2 * channelCount, splits, sums);
    }

    /// <summary>Blocks for a grid-stride loop over <paramref name="count"/> elements (about 4 per thread, capped).</summary>
    internal static int GridFor(int count) => (int)Math.Clamp(((long)count + BlockSize * 4 - 1) / (BlockSize * 4), 1, 65_535);

    private static void FinishSums(KernelLauncher launcher, DeviceSpan<double> partials, int rows, int splits, DeviceSpan<double> sums) =>
        launcher.Launch(typeof(BatchNorm).GetMethod(nameof(SumSplits))!, (rows + BlockSize - 1) / BlockSize, BlockSize, partials, rows, splits, sums);

    private static void CheckScratch(DeviceSpan<double> partials, DeviceSpan<double> sums, int channelCount, int splits)
    {
        if (partials.Length < 2 * channelCount * splits || sums.Length < 2 * channelCount)
            throw new ArgumentException($"batch-norm statistics: expected scratch of {2 * channelCount * splits} doubles and sums of {2 * channelCount}, found {partials.Length} and {sums.Length}; size the scratch with SplitCount");
    }
}
