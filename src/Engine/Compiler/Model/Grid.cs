namespace Tessera.Engine.Gpu;

/// <summary>
/// Thread, block and grid coordinates (CUDA's threadIdx, blockIdx, blockDim, gridDim). Compiled
/// kernels read the PTX special registers; as plain C# the values come from <see cref="CpuGrid"/>.
/// </summary>
public static class Grid
{
    public static int ThreadX => CpuGrid.Current.ThreadX;
    public static int ThreadY => CpuGrid.Current.ThreadY;
    public static int ThreadZ => CpuGrid.Current.ThreadZ;
    public static int BlockX => CpuGrid.Current.BlockX;
    public static int BlockY => CpuGrid.Current.BlockY;
    public static int BlockZ => CpuGrid.Current.BlockZ;
    public static int BlockDimX => CpuGrid.Current.BlockDim.X;
    public static int BlockDimY => CpuGrid.Current.BlockDim.Y;
    public static int BlockDimZ => CpuGrid.Current.BlockDim.Z;
    public static int GridDimX => CpuGrid.Current.GridDim.X;
    public static int GridDimY => CpuGrid.Current.GridDim.Y;
    public static int GridDimZ => CpuGrid.Current.GridDim.Z;

    /// <summary>blockIdx.x * blockDim.x + threadIdx.x.</summary>
    public static int GlobalX => BlockX * BlockDimX + ThreadX;

    /// <summary>blockIdx.y * blockDim.y + threadIdx.y.</summary>
    public static int GlobalY => BlockY * BlockDimY + ThreadY;

    /// <summary>Threads in the whole grid along x (for grid-stride loops).</summary>
    public static int StrideX => GridDimX * BlockDimX;
}

/// <summary>The elementwise helper: a global index and its bounds check in one call.</summary>
public static class Elementwise
{
    /// <summary>
    /// Sets <paramref name="index"/> to the global x index and returns whether it is below
    /// <paramref name="length"/>: <c>if (Elementwise.Index(y.Length, out int i)) y[i] = f(x[i]);</c>
    /// </summary>
    public static bool Index(int length, out int index)
    {
        index = Grid.BlockX * Grid.BlockDimX + Grid.ThreadX;
        return index < length;
    }
}
