using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// 2-d convolution as implicit GEMM (ConvImplicitGemm): the im2col matrix is never materialised;
/// each block gathers its 16-deep slice of it straight from the image into the shared tile of the
/// same 64×64×16 register-tiled product as <see cref="GpuGemm"/>. Every k step, 16 threads decode
/// the 16 k indices of the next step (channel, kernel row, kernel column) into a small shared table,
/// so the per-element gather is two adds and a bounds test instead of divisions. Grid z runs over
/// groups (and split-k slices for the weight gradient).
/// </summary>
public static partial class GpuConv2d
{
    private const int Rows = RegisterTile.Rows, Columns = RegisterTile.Columns, Depth = RegisterTile.Depth;
    private const int Side = RegisterTile.ThreadsPerSide, PerThread = RegisterTile.PerThread, Threads = RegisterTile.Threads;
    private const int Stride = RegisterTile.SharedStride, Loads = RegisterTile.LoadsPerThread;

    /// <summary>A decoded k index past the end: its row offset pushes every gather out of bounds.</summary>
    private const int Outside = -(1 << 29);

    /// <summary>
    /// output = conv(input, weight) + bias, overwritten. GEMM view per group: [outChannelsPerGroup] ×
    /// [batch · outHeight · outWidth] over k = (inChannel, kh, kw). Launch 16×16 threads, grid
    /// (ceil(batch·outPlane / 64), ceil(outChannelsPerGroup / 64), groups).
    /// </summary>
    [Kernel]
    public static void ForwardImplicitGemm(
        // [batch, inChannels, inHeight, inWidth]
        DeviceSpan<float> input,
        // [outChannels, inChannels / groups, kernelHeight, kernelWidth]
        DeviceSpan<float> weight,
        // [outChannels], read when hasBias != 0
        DeviceSpan<float> bias,
        ConvShape s, int hasBias,
        // [batch, outChannels, outHeight, outWidth]
        DeviceSpan<float> output)
    {
        DeviceSpan<float> tileA = Shared.Allocate<float>(Depth * Stride);
        DeviceSpan<float> tileB = Shared.Allocate<float>(Depth * Stride);
        // Per k row of the step (two steps in flight): channel offset, kernel row and column offsets.
        DeviceSpan<int> channelOffset = Shared.Allocate<int>(2 * Depth);
        DeviceSpan<int> rowOffset = Shared.Allocate<int>(2 * Depth);
        DeviceSpan<int> columnOffset = Shared.Allocate<int>(2 * Depth);
        DeviceSpan<float> accumulator = Local.Allocate<float>(PerThread * PerThread);
        DeviceSpan<float> fragmentA = Local.Allocate<float>(PerThread);
        DeviceSpan<float> fragmentB = Local.Allocate<float>(PerThread);
        DeviceSpan<float> nextA = Local.Allocate<float>(Loads);
        DeviceSpan<float> nextB = Local.Allocate<float>(Loads);
        int tx = Grid.ThreadX, ty = Grid.ThreadY, thread = ty * Side + tx;
        int group = Grid.BlockZ, rowBase = Grid.BlockY * Rows, columnBase = Grid.BlockX * Columns;
        int inPerGroup = s.InChannels / s.Groups, outPerGroup = s.OutChannels / s.Groups;
        int taps = s.KernelHeight * s.KernelWidth, patch = inPerGroup * taps;
        int inPlane = s.InHeight * s.InWidth, outPlane = s.OutHeight * s.OutWidth, pixels = s.BatchSize * outPlane;
        // The im2col column this thread gathers is the same for every load and step (256 is a multiple of 64).
        int pixel = columnBase + thread % Columns;
        int image = pixel / outPlane, planeIndex = pixel - image * outPlane;
        int oh = planeIndex / s.OutWidth, ow = planeIndex - oh * s.OutWidth;
        int ihBase = pixel < pixels ? oh * s.StrideHeight - s.PaddingHeight : Outside;
        int iwBase = ow * s.StrideWidth - s.PaddingWidth;
        int imageBase = (image * s.InChannels + group * inPerGroup) * inPlane;
        int weightBase = group * outPerGroup * patch;
        for (int i = 0; i < PerThread * PerThread; i++)
            accumulator[i] = 0f;

        if (thread < Depth)
            DecodeInputTap(thread, patch, taps, inPlane, s, thread, channelOffset, rowOffset, columnOffset);
        Block.Barrier();
        for (int l = 0; l < Loads; l++)
        {
            int e = thread + l * Threads;
            nextA[l] = WeightElement(weight, weightBase, rowBase + e / Depth, e % Depth, outPerGroup, patch);
            nextB[l] = InputElement(input, imageBase, ihBase, iwBase, s, e / Columns, channelOffset, rowOffset, columnOffset);
        }
        int step = 0;
        for (int k0 = 0; k0 < patch; k0 += Depth)
        {
            for (int l = 0; l < Loads; l++)
            {
                int e = thread + l * Threads;
                tileA[e % Depth * Stride + e / Depth] = nextA[l];
                tileB[e / Columns * Stride + e % Columns] = nextB[l];
            }
            int k1 = k0 + Depth, slot = ((step + 1) & 1) * Depth;
            if (thread < Depth)
                DecodeInputTap(k1 + thread, patch, taps, inPlane, s, slot + thread, channelOffset, rowOffset, columnOffset);
            Block.Barrier();
            if (k1 < patch)
            {
                for (int l = 0; l < Loads; l++)
                {
                    int e = thread + l * Threads;
                    nextA[l] = WeightElement(weight, weightBase, rowBase + e / Depth, k1 + e % Depth, outPerGroup, patch);
                    nextB[l] = InputElement(input, imageBase, ihBase, iwBase, s, slot + e / Columns, channelOffset, rowOffset, columnOffset);
                }
            }
            RegisterTile.MultiplyAccumulate(tileA, tileB, accumulator, fragmentA, fragmentB, tx, ty);
            Block.Barrier();
            step++;
        }
        for (int j = 0; j < PerThread; j++)
        {
            int column = columnBase + tx + j * Side;
            if (column >= pixels)
                continue;
            int img = column / outPlane, at = column - img * outPlane;
            for (int i = 0; i < PerThread; i++)
            {
                int channel = rowBase + ty + i * Side;
                if (channel < outPerGroup)
                {
                    int o = group * outPerGroup + channel;
                    float value = accumulator[i * PerThread + j];
                    output[(img * s.OutChannels + o) * outPlane + at] = hasBias != 0 ? value + bias[o] : value;
                }
            }
        }
    }

    /// <summary>k = (channel, kh, kw) of the forward / weight-gradient patch → offsets; past the patch → <see cref="Outside"/>.</summary>
    private static void DecodeInputTap(int k, int patch, int taps, int inPlane, ConvShape s, int slot,
        DeviceSpan<int> channelOffset, DeviceSpan<int> rowOffset, DeviceSpan<int> columnOffset)
    {
        int channel = k / taps, tap = k - channel * taps;
        int kh = tap / s.KernelWidth, kw = tap - kh * s.KernelWidth;
        channelOffset[slot] = channel * inPlane;
        rowOffset[slot] = k < patch ? kh * s.DilationHeight : Outside;
        columnOffset[slot] = kw * s.DilationWidth;
    }

    private static float WeightElement(DeviceSpan<float> weight, int weightBase, int row, int k, int rowCount, int patch) =>
        row < rowCount && k < patch ? weight[weightBase + row * patch + k] : 0f;

    /// <summary>The im2col element at k row <paramref name="slot"/> of the decode table for the thread's output pixel.</summary>
    private static float InputElement(DeviceSpan<float> input, int imageBase, int ihBase, int iwBase, ConvShape s, int slot,
        DeviceSpan<int> channelOffset, DeviceSpan<int> rowOffset, DeviceSpan<int> columnOffset)
    {
        int ih = ihBase + rowOffset[slot], iw = iwBase + columnOffset[slot];
        return ih >= 0 && ih < s.InHeight && iw >= 0 && iw < s.InWidth ? input[imageBase + channelOffset[slot] + ih * s.InWidth + iw] : 0f;
    }
}
