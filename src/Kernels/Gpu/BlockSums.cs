using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>The block-wide sum the reduction kernels of this folder share (blocks of <see cref="Threads"/> threads).</summary>
internal static class BlockSums
{
    public const int Threads = 256;

    /// <summary>Warps per block: the length of the shared array <see cref="Sum"/> takes.</summary>
    public const int Warps = Threads / Warp.Size;

    /// <summary>
    /// The block's sum of <paramref name="value"/>, valid in thread 0: warp butterflies, then thread 0
    /// adds the warp sums in order. <paramref name="partial"/> is shared memory of <see cref="Warps"/> floats.
    /// </summary>
    public static float Sum(float value, DeviceSpan<float> partial)
    {
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            value += Warp.ShuffleXor(value, mask);
        if (Warp.LaneId == 0)
            partial[Grid.ThreadX / Warp.Size] = value;
        Block.Barrier();
        float total = 0f;
        if (Grid.ThreadX == 0)
            for (int w = 0; w < Warps; w++)
                total += partial[w];
        return total;
    }
}
