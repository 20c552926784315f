using System.Runtime.InteropServices;

namespace Tessera.Engine.Gpu;

/// <summary>Launch dimensions (CUDA's dim3).</summary>
public readonly record struct Dim3(int X, int Y = 1, int Z = 1)
{
    public long Count => (long)X * Y * Z;

    public static implicit operator Dim3(int x) => new(x);
}

/// <summary>
/// Runs a kernel method as plain C# on the CPU: every (block, thread) in turn on the calling
/// thread, with the grid intrinsics answering from this context. Barriers, warp operations and
/// shared memory need the GPU or the emulator and throw here.
/// </summary>
public sealed class CpuGrid
{
    [ThreadStatic]
    private static CpuGrid? t_current;

    private readonly List<nint> _localAllocations = [];

    private CpuGrid(Dim3 gridDim, Dim3 blockDim)
    {
        GridDim = gridDim;
        BlockDim = blockDim;
    }

    public Dim3 GridDim { get; }
    public Dim3 BlockDim { get; }
    public int ThreadX { get; private set; }
    public int ThreadY { get; private set; }
    public int ThreadZ { get; private set; }
    public int BlockX { get; private set; }
    public int BlockY { get; private set; }
    public int BlockZ { get; private set; }

    internal static CpuGrid Current => t_current
        ?? throw new InvalidOperationException("a grid intrinsic was called outside a kernel launch; run the kernel through CpuGrid.Launch or compile it with KernelCompiler and launch it on a driver");

    internal static InvalidOperationException NeedsDevice(string what)
        => new($"{what} needs a GPU or the PTX emulator: a kernel that uses barriers, warp operations or shared memory cannot run as plain C#; launch it through KernelLauncher instead");

    /// <summary>Calls <paramref name="thread"/> once per (block, thread) of the launch, serially.</summary>
    public static void Launch(Dim3 gridDim, Dim3 blockDim, Action thread)
    {
        ArgumentNullException.ThrowIfNull(thread);
        if (t_current is not null)
            throw new InvalidOperationException("CpuGrid.Launch was called from inside a kernel; kernels cannot launch kernels");
        var grid = new CpuGrid(gridDim, blockDim);
        t_current = grid;
        try
        {
            for (int bz = 0; bz < gridDim.Z; bz++)
                for (int by = 0; by < gridDim.Y; by++)
                    for (int bx = 0; bx < gridDim.X; bx++)
                        for (int tz = 0; tz < blockDim.Z; tz++)
                            for (int ty = 0; ty < blockDim.Y; ty++)
                                for (int tx = 0; tx < blockDim.X; tx++)
                                {
                                    (grid.BlockX, grid.BlockY, grid.BlockZ) = (bx, by, bz);
                                    (grid.ThreadX, grid.ThreadY, grid.ThreadZ) = (tx, ty, tz);
                                    try
                                    {
                                        thread();
                                    }
                                    finally
                                    {
                                        grid.FreeLocals();
                                    }
                                }
        }
        finally
        {
            t_current = null;
        }
    }

    internal unsafe nint AllocateLocal(int bytes)
    {
        nint memory = (nint)NativeMemory.AllocZeroed((nuint)Math.Max(bytes, 1));
        _localAllocations.Add(memory);
        return memory;
    }

    private unsafe void FreeLocals()
    {
        foreach (nint memory in _localAllocations)
            NativeMemory.Free((void*)memory);
        _localAllocations.Clear();
    }
}
