using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

public static partial class GpuConv2d
{
    /// <summary>
    /// gradWeight = Σ over images and output pixels of gradOutput · im2col(input)ᵀ. GEMM view per group:
    /// [outChannelsPerGroup] × [patch] over k = (image, output pixel), split along k into
    /// <paramref name="splitCount"/> slices of <paramref name="splitDepth"/> (a multiple of 16) so small
    /// weights still fill the GPU. Slice z writes target[z, outChannels, patch] (overwrite); with one
    /// slice target is the gradient itself, otherwise <see cref="SumSlices"/> adds the slices in order.
    /// Launch 16×16 threads, grid (ceil(patch / 64), ceil(outChannelsPerGroup / 64), groups · splitCount).
    /// </summary>
    [Kernel]
    public static void BackwardWeightImplicitGemm(
        // [batch, inChannels, inHeight, inWidth]
        DeviceSpan<float> input,
        // [batch, outChannels, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        ConvShape s, int splitCount, int splitDepth,
        // [splitCount, outChannels, inChannels / groups · kernelHeight · kernelWidth]
        DeviceSpan<float> target)
    {
        DeviceSpan<float> tileA = Shared.Allocate<float>(Depth * Stride);
        DeviceSpan<float> tileB = Shared.Allocate<float>(Depth * Stride);
        // Per k row (image, output pixel): gradOutput offset (or -1), input image offset, window origin.
        DeviceSpan<int> gradOffset = Shared.Allocate<int>(2 * Depth);
        DeviceSpan<int> imageOffset = Shared.Allocate<int>(2 * Depth);
        DeviceSpan<int> rowOrigin = Shared.Allocate<int>(2 * Depth);
        DeviceSpan<int> columnOrigin = Shared.Allocate<int>(2 * Depth);
        DeviceSpan<float> accumulator = Local.Allocate<float>(PerThread * PerThread);
        DeviceSpan<float> fragmentA = Local.Allocate<float>(PerThread);
        DeviceSpan<float> fragmentB = Local.Allocate<float>(PerThread);
        DeviceSpan<float> nextA = Local.Allocate<float>(Loads);
        DeviceSpan<float> nextB = Local.Allocate<float>(Loads);
        // The patch columns (inChannel, kh, kw) this thread gathers, decoded once.
        DeviceSpan<int> patchChannel = Local.Allocate<int>(Loads);
        DeviceSpan<int> patchRow = Local.Allocate<int>(Loads);
        DeviceSpan<int> patchColumn = Local.Allocate<int>(Loads);
        int tx = Grid.ThreadX, ty = Grid.ThreadY, thread = ty * Side + tx;
        int group = Grid.BlockZ / splitCount, split = Grid.BlockZ - group * splitCount;
        int rowBase = Grid.BlockY * Rows, columnBase = Grid.BlockX * Columns;
        int inPerGroup = s.InChannels / s.Groups, outPerGroup = s.OutChannels / s.Groups;
        int taps = s.KernelHeight * s.KernelWidth, patch = inPerGroup * taps;
        int inPlane = s.InHeight * s.InWidth, outPlane = s.OutHeight * s.OutWidth;
        int kStart = split * splitDepth, kEnd = Math.Min(s.BatchSize * outPlane, kStart + splitDepth);
        int gradChannelBase = group * outPerGroup * outPlane;
        for (int l = 0; l < Loads; l++)
        {
            // B loads walk along k (consecutive output pixels): column e / 16 of the tile.
            int r = columnBase + (thread + l * Threads) / Depth;
            int channel = r / taps, tap = r - channel * taps, kh = tap / s.KernelWidth;
            patchChannel[l] = (group * inPerGroup + channel) * inPlane;
            patchRow[l] = r < patch ? kh * s.DilationHeight : Outside;
            patchColumn[l] = (tap - kh * s.KernelWidth) * s.DilationWidth;
        }
        for (int i = 0; i < PerThread * PerThread; i++)
            accumulator[i] = 0f;

        if (thread < Depth)
            DecodePixel(kStart + thread, kEnd, outPlane, s, thread, gradOffset, imageOffset, rowOrigin, columnOrigin);
        Block.Barrier();
        for (int l = 0; l < Loads; l++)
        {
            int e = thread + l * Threads;
            nextA[l] = GradRowElement(gradOutput, gradChannelBase, rowBase + e / Depth, outPerGroup, outPlane, e % Depth, gradOffset);
            nextB[l] = PatchElement(input, s, e % Depth, patchChannel[l], patchRow[l], patchColumn[l], imageOffset, rowOrigin, columnOrigin);
        }
        int step = 0;
        for (int k0 = kStart; k0 < kEnd; k0 += Depth)
        {
            for (int l = 0; l < Loads; l++)
            {
                int e = thread + l * Threads;
                tileA[e % Depth * Stride + e / Depth] = nextA[l];
                tileB[e % Depth * Stride + e / Depth] = nextB[l];
            }
            int k1 = k0 + Depth, slot = ((step + 1) & 1) * Depth;
            if (thread < Depth)
                DecodePixel(k1 + thread, kEnd, outPlane, s, slot + thread, gradOffset, imageOffset, rowOrigin, columnOrigin);
            Block.Barrier();
            if (k1 < kEnd)
            {
                for (int l = 0; l < Loads; l++)
                {
                    int e = thread + l * Threads;
                    nextA[l] = GradRowElement(gradOutput, gradChannelBase, rowBase + e / Depth, outPerGroup, outPlane, slot + e % Depth, gradOffset);
                    nextB[l] = PatchElement(input, s, slot + e % Depth, patchChannel[l], patchRow[l], patchColumn[l], imageOffset, rowOrigin, columnOrigin);
                }
            }
            RegisterTile.MultiplyAccumulate(tileA, tileB, accumulator, fragmentA, fragmentB, tx, ty);
            Block.Barrier();
            step++;
        }
        int targetBase = (split * s.OutChannels + group * outPerGroup) * patch;
        for (int i = 0; i < PerThread; i++)
            for (int j = 0; j < PerThread; j++)
            {
                int row = rowBase + ty + i * Side, column = columnBase + tx + j * Side;
                if (row < outPerGroup && column < patch)
                    target[targetBase + row * patch + column] = accumulator[i * PerThread + j];
            }
    }

    /// <summary>output[i] = Σ_z slices[z, i] in order z = 0, 1, … (deterministic split-k reduction). Overwrites output.</summary>
    [Kernel]
    public static void SumSlices(
        // [sliceCount, count]
        DeviceSpan<float> slices,
        int sliceCount,
        // [count]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int i))
            return;
        float sum = 0f;
        for (int z = 0; z < sliceCount; z++)
            sum += slices[z * output.Length + i];
        output[i] = sum;
    }

    /// <summary>k = (image, output pixel) → gradOutput offset (−1 past kEnd), input image offset and window origin.</summary>
    private static void DecodePixel(int k, int kEnd, int outPlane, ConvShape s, int slot,
        DeviceSpan<int> gradOffset, DeviceSpan<int> imageOffset, DeviceSpan<int> rowOrigin, DeviceSpan<int> columnOrigin)
    {
        int image = k / outPlane, at = k - image * outPlane;
        int oh = at / s.OutWidth, ow = at - oh * s.OutWidth;
        bool inside = k < kEnd;
        gradOffset[slot] = inside ? image * s.OutChannels * outPlane + at : -1;
        imageOffset[slot] = image * s.InChannels * s.InHeight * s.InWidth;
        rowOrigin[slot] = inside ? oh * s.StrideHeight - s.PaddingHeight : Outside;
        columnOrigin[slot] = ow * s.StrideWidth - s.PaddingWidth;
    }

    private static float GradRowElement(DeviceSpan<float> gradOutput, int gradChannelBase, int row, int rowCount, int outPlane, int slot, DeviceSpan<int> gradOffset)
    {
        int offset = gradOffset[slot];
        return row < rowCount && offset >= 0 ? gradOutput[offset + gradChannelBase + row * outPlane] : 0f;
    }

    private static float PatchElement(DeviceSpan<float> input, ConvShape s, int slot, int channelOffset, int kernelRow, int kernelColumn,
        DeviceSpan<int> imageOffset, DeviceSpan<int> rowOrigin, DeviceSpan<int> columnOrigin)
    {
        int ih = rowOrigin[slot] + kernelRow, iw = columnOrigin[slot] + kernelColumn;
        return ih >= 0 && ih < s.InHeight && iw >= 0 && iw < s.InWidth ? input[imageOffset[slot] + channelOffset + ih * s.InWidth + iw] : 0f;
    }
}
