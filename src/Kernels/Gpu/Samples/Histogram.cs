using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu.Samples;

/// <summary>A 256-bin byte histogram: per-block counts in shared memory, merged with global atomics.</summary>
public static class Histogram
{
    public const int BinCount = 256;

    /// <summary><paramref name="bins"/> must be zeroed before the launch; counts accumulate into it.</summary>
    [Kernel]
    public static void Bytes(
        // [count]
        DeviceSpan<byte> values,
        // [BinCount]
        DeviceSpan<int> bins)
    {
        DeviceSpan<int> local = Shared.Allocate<int>(BinCount);
        for (int b = Grid.ThreadX; b < BinCount; b += Grid.BlockDimX)
            local[b] = 0;
        Block.Barrier();
        for (int i = Grid.GlobalX; i < values.Length; i += Grid.StrideX)
            Atomic.Add(ref local[values[i]], 1);
        Block.Barrier();
        for (int b = Grid.ThreadX; b < BinCount; b += Grid.BlockDimX)
            if (local[b] != 0)
                Atomic.Add(ref bins[b], local[b]);
    }

    /// <summary>Global atomics only (no shared memory): the form that also runs as plain C#.</summary>
    [Kernel]
    public static void BytesGlobal(
        // [count]
        DeviceSpan<byte> values,
        // [BinCount]
        DeviceSpan<int> bins)
    {
        if (Elementwise.Index(values.Length, out int i))
            Atomic.Add(ref bins[values[i]], 1);
    }
}
