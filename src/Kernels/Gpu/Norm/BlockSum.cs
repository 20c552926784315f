using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Block-wide sums for the normalisation, loss and optimiser kernels: a butterfly shuffle within
/// each warp, one value per warp through <c>scratch</c> in shared memory (32 slots),
/// then a butterfly over those. Every thread of the block gets the same total (xor butterflies
/// add the same pairs in the same order on every lane). Every thread of the block must call it
/// (it has barriers); blockDim.x must be a multiple of 32 and at most 1024.
/// </summary>
internal static class BlockSum
{
    /// <summary>Sum of <paramref name="value"/> over the block.</summary>
    public static double Of(double value, DeviceSpan<double> scratch)
    {
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            value += Warp.ShuffleXor(value, mask);
        int lane = Warp.LaneId;
        Block.Barrier();                  // a previous call may still be reading scratch
        if (lane == 0)
            scratch[Grid.ThreadX / Warp.Size] = value;
        Block.Barrier();
        double total = lane < Grid.BlockDimX / Warp.Size ? scratch[lane] : 0.0;
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            total += Warp.ShuffleXor(total, mask);
        return total;
    }

    /// <summary>Sum of <paramref name="value"/> over the block, in float.</summary>
    public static float Of(float value, DeviceSpan<float> scratch)
    {
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            value += Warp.ShuffleXor(value, mask);
        int lane = Warp.LaneId;
        Block.Barrier();
        if (lane == 0)
            scratch[Grid.ThreadX / Warp.Size] = value;
        Block.Barrier();
        float total = lane < Grid.BlockDimX / Warp.Size ? scratch[lane] : 0f;
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            total += Warp.ShuffleXor(total, mask);
        return total;
    }

    /// <summary>Threads per block for a reduction over <paramref name="length"/> values: a multiple of 32 from 32 to 256.</summary>
    public static int BlockSizeFor(int length)
    {
        int block = 32;
        while (block < 256 && block * 4 < length)
            block *= 2;
        return block;
    }
}
