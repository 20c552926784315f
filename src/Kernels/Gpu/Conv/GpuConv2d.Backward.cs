using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

public static partial class GpuConv2d
{
    /// <summary>
    /// gradInput = convᵀ(gradOutput, weight), overwritten; also the transposed convolution's forward.
    /// GEMM view per group: [inChannelsPerGroup] × [batch · inHeight · inWidth] over k = (outChannel, kh, kw),
    /// gathering gradOutput at oh = (ih + padding − kh·dilation) / stride where that divides exactly.
    /// Launch 16×16 threads, grid (ceil(batch·inPlane / 64), ceil(inChannelsPerGroup / 64), groups).
    /// </summary>
    [Kernel]
    public static void BackwardInputImplicitGemm(
        // [batch, outChannels, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        // [outChannels, inChannels / groups, kernelHeight, kernelWidth]
        DeviceSpan<float> weight,
        ConvShape s,
        // [batch, inChannels, inHeight, inWidth]
        DeviceSpan<float> gradInput)
    {
        DeviceSpan<float> tileA = Shared.Allocate<float>(Depth * Stride);
        DeviceSpan<float> tileB = Shared.Allocate<float>(Depth * Stride);
        // Per k row: weight offset (outChannel · patch + tap), gradOutput channel offset, kernel row and column offsets.
        DeviceSpan<int> weightOffset = Shared.Allocate<int>(2 * Depth);
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
        int taps = s.KernelHeight * s.KernelWidth, patch = inPerGroup * taps, depth = outPerGroup * taps;
        int inPlane = s.InHeight * s.InWidth, outPlane = s.OutHeight * s.OutWidth, pixels = s.BatchSize * inPlane;
        int pixel = columnBase + thread % Columns;
        int image = pixel / inPlane, planeIndex = pixel - image * inPlane;
        int ih = planeIndex / s.InWidth, iw = planeIndex - ih * s.InWidth;
        // Padded input coordinates; a pixel past the end gets one no output row can reach.
        int hBase = pixel < pixels ? ih + s.PaddingHeight : -Outside;
        int wBase = iw + s.PaddingWidth;
        int gradBase = (image * s.OutChannels + group * outPerGroup) * outPlane;
        int weightBase = group * outPerGroup * patch;
        for (int i = 0; i < PerThread * PerThread; i++)
            accumulator[i] = 0f;

        if (thread < Depth)
            DecodeOutputTap(thread, depth, taps, patch, outPlane, s, thread, weightOffset, channelOffset, rowOffset, columnOffset);
        Block.Barrier();
        for (int l = 0; l < Loads; l++)
        {
            int e = thread + l * Threads;
            nextA[l] = TransposedWeightElement(weight, weightBase, rowBase + e / Depth, e % Depth, inPerGroup, taps, weightOffset);
            nextB[l] = GradOutputElement(gradOutput, gradBase, hBase, wBase, s, e / Columns, channelOffset, rowOffset, columnOffset);
        }
        int step = 0;
        for (int k0 = 0; k0 < depth; k0 += Depth)
        {
            for (int l = 0; l < Loads; l++)
            {
                int e = thread + l * Threads;
                tileA[e % Depth * Stride + e / Depth] = nextA[l];
                tileB[e / Columns * Stride + e % Columns] = nextB[l];
            }
            int k1 = k0 + Depth, slot = ((step + 1) & 1) * Depth;
            if (thread < Depth)
                DecodeOutputTap(k1 + thread, depth, taps, patch, outPlane, s, slot + thread, weightOffset, channelOffset, rowOffset, columnOffset);
            Block.Barrier();
            if (k1 < depth)
            {
                for (int l = 0; l < Loads; l++)
                {
                    int e = thread + l * Threads;
                    nextA[l] = TransposedWeightElement(weight, weightBase, rowBase + e / Depth, slot + e % Depth, inPerGroup, taps, weightOffset);
                    nextB[l] = GradOutputElement(gradOutput, gradBase, hBase, wBase, s, slot + e / Columns, channelOffset, rowOffset, columnOffset);
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
            int img = column / inPlane, at = column - img * inPlane;
            for (int i = 0; i < PerThread; i++)
            {
                int channel = rowBase + ty + i * Side;
                if (channel < inPerGroup)
                    gradInput[(img * s.InChannels + group * inPerGroup + channel) * inPlane + at] = accumulator[i * PerThread + j];
            }
        }
    }

    /// <summary>k = (outChannel, kh, kw) → weight, gradOutput-channel and kernel offsets; past the end the row offset is unreachable.</summary>
    private static void DecodeOutputTap(int k, int depth, int taps, int patch, int outPlane, ConvShape s, int slot,
        DeviceSpan<int> weightOffset, DeviceSpan<int> channelOffset, DeviceSpan<int> rowOffset, DeviceSpan<int> columnOffset)
    {
        int channel = k / taps, tap = k - channel * taps;
        int kh = tap / s.KernelWidth, kw = tap - kh * s.KernelWidth;
        weightOffset[slot] = k < depth ? channel * patch + tap : -1;
        channelOffset[slot] = channel * outPlane;
        rowOffset[slot] = k < depth ? kh * s.DilationHeight : Outside;
        columnOffset[slot] = kw * s.DilationWidth;
    }

    /// <summary>weight[outChannel, inChannel, kh, kw] as the (inChannel, k) element of the transposed product; k is a decode-table slot.</summary>
    private static float TransposedWeightElement(DeviceSpan<float> weight, int weightBase, int row, int slot, int rowCount, int taps, DeviceSpan<int> weightOffset)
    {
        int offset = weightOffset[slot];
        return row < rowCount && offset >= 0 ? weight[weightBase + offset + row * taps] : 0f;
    }

    /// <summary>gradOutput at the output pixel that tap <paramref name="slot"/> reaches from this input pixel, 0 when none does.</summary>
    private static float GradOutputElement(DeviceSpan<float> gradOutput, int gradBase, int hBase, int wBase, ConvShape s, int slot,
        DeviceSpan<int> channelOffset, DeviceSpan<int> rowOffset, DeviceSpan<int> columnOffset)
    {
        int th = hBase - rowOffset[slot], tw = wBase - columnOffset[slot];
        if (th < 0 || tw < 0)
            return 0f;
        int oh = th / s.StrideHeight, ow = tw / s.StrideWidth;
        bool hit = oh * s.StrideHeight == th && ow * s.StrideWidth == tw && oh < s.OutHeight && ow < s.OutWidth;
        return hit ? gradOutput[gradBase + channelOffset[slot] + oh * s.OutWidth + ow] : 0f;
    }
}
