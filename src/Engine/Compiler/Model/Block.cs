namespace Tessera.Engine.Gpu;

/// <summary>Block-wide synchronisation and memory fences.</summary>
public static class Block
{
    /// <summary>bar.sync 0: waits until every thread of the block has arrived.</summary>
    public static void Barrier() => throw CpuGrid.NeedsDevice("Block.Barrier");
}

/// <summary>Memory fences (membar): order this thread's memory accesses as seen by others.</summary>
public static class Fence
{
    /// <summary>membar.cta: ordering visible to the threads of this block.</summary>
    public static void Block() => Thread.MemoryBarrier();

    /// <summary>membar.gl: ordering visible to every thread of the device.</summary>
    public static void Device() => Thread.MemoryBarrier();

    /// <summary>membar.sys: ordering visible to the host too.</summary>
    public static void System() => Thread.MemoryBarrier();
}

/// <summary>
/// Warp-level operations over 32 lanes (full mask; every lane of the warp must take part).
/// 64-bit values are shuffled as two 32-bit halves.
/// </summary>
public static class Warp
{
    public const int Size = 32;

    /// <summary>%laneid: this thread's lane in its warp.</summary>
    public static int LaneId => CpuGrid.Current.ThreadX & (Size - 1);

    public static float ShuffleXor(float value, int laneMask) => throw CpuGrid.NeedsDevice("Warp.ShuffleXor");
    public static double ShuffleXor(double value, int laneMask) => throw CpuGrid.NeedsDevice("Warp.ShuffleXor");
    public static long ShuffleXor(long value, int laneMask) => throw CpuGrid.NeedsDevice("Warp.ShuffleXor");
    public static double ShuffleDown(double value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleDown");
    public static long ShuffleDown(long value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleDown");
    public static double ShuffleUp(double value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleUp");
    public static long ShuffleUp(long value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleUp");
    public static double Shuffle(double value, int sourceLane) => throw CpuGrid.NeedsDevice("Warp.Shuffle");
    public static long Shuffle(long value, int sourceLane) => throw CpuGrid.NeedsDevice("Warp.Shuffle");
    public static int ShuffleXor(int value, int laneMask) => throw CpuGrid.NeedsDevice("Warp.ShuffleXor");
    public static float ShuffleDown(float value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleDown");
    public static int ShuffleDown(int value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleDown");
    public static float ShuffleUp(float value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleUp");
    public static int ShuffleUp(int value, int delta) => throw CpuGrid.NeedsDevice("Warp.ShuffleUp");
    public static float Shuffle(float value, int sourceLane) => throw CpuGrid.NeedsDevice("Warp.Shuffle");
    public static int Shuffle(int value, int sourceLane) => throw CpuGrid.NeedsDevice("Warp.Shuffle");
}

/// <summary>Block-shared memory.</summary>
public static class Shared
{
    /// <summary>
    /// Static shared memory of <paramref name="length"/> elements (a compile-time constant after
    /// inlining and specialisation). Each call site is its own allocation.
    /// </summary>
    public static DeviceSpan<T> Allocate<T>(int length) where T : unmanaged => throw CpuGrid.NeedsDevice("Shared.Allocate");

    /// <summary>The dynamic shared memory given at launch, viewed as elements of <typeparamref name="T"/>.</summary>
    public static DeviceSpan<T> Dynamic<T>() where T : unmanaged => throw CpuGrid.NeedsDevice("Shared.Dynamic");
}

/// <summary>Per-thread arrays (register tiles).</summary>
public static class Local
{
    /// <summary>
    /// A per-thread array of <paramref name="length"/> elements (compile-time constant). When
    /// every index is a constant after loop unrolling it lives in registers, otherwise in .local memory.
    /// </summary>
    public static unsafe DeviceSpan<T> Allocate<T>(int length) where T : unmanaged
        => new((T*)CpuGrid.Current.AllocateLocal(length * sizeof(T)), length);
}
