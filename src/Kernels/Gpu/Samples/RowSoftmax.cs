using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu.Samples;

/// <summary>Softmax over the last axis, one warp per row, reductions by butterfly shuffles.</summary>
public static class RowSoftmax
{
    /// <summary>Launch with a multiple of 32 threads per block; each warp handles one row.</summary>
    [Kernel]
    public static void Forward(
        // [rowCount, columnCount]
        DeviceSpan<float> input,
        int rowCount,
        int columnCount,
        // [rowCount, columnCount]
        DeviceSpan<float> output)
    {
        int row = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (row >= rowCount)
            return;
        int lane = Warp.LaneId;
        int offset = row * columnCount;
        float max = float.NegativeInfinity;
        for (int c = lane; c < columnCount; c += Warp.Size)
            max = MathF.Max(max, input[offset + c]);
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            max = MathF.Max(max, Warp.ShuffleXor(max, mask));
        float sum = 0f;
        for (int c = lane; c < columnCount; c += Warp.Size)
        {
            float e = MathF.Exp(input[offset + c] - max);
            output[offset + c] = e;
            sum += e;
        }
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            sum += Warp.ShuffleXor(sum, mask);
        float scale = 1f / sum;
        for (int c = lane; c < columnCount; c += Warp.Size)
            output[offset + c] *= scale;
    }
}
