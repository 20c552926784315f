using System.Reflection;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// One GEMM operand on the device: element (row, column) of batch (outer, inner) is at
/// Data[outer * BatchOuterStride + inner * BatchInnerStride + row * RowStride + column * ColumnStride].
/// A transposed view is the same data with the two strides swapped; a broadcast batch has stride 0.
/// </summary>
public readonly record struct GemmOperand(DeviceSpan<float> Data, int RowStride, int ColumnStride, int BatchOuterStride = 0, int BatchInnerStride = 0)
{
    /// <summary>A dense row-major [rows, columns] matrix (batch strides 0).</summary>
    public static GemmOperand RowMajor(DeviceSpan<float> data, int columns) => new(data, columns, 1);
}

/// <summary>Which block tile <see cref="GpuGemm.Run(KernelLauncher, GemmOperand, GemmOperand, int, int, int, int, int, float, float, DeviceSpan{float}, GemmTiling)"/> uses.</summary>
public enum GemmTiling
{
    /// <summary>128×128 when that still gives at least <see cref="GpuGemm.WideBlockTarget"/> blocks, else 64×64.</summary>
    Automatic,

    /// <summary><see cref="GpuGemm.SharedRegisterTiled"/> (64×64 blocks, 4×4 per thread).</summary>
    Tile64,

    /// <summary><see cref="GpuGemm.SharedRegisterTiledWide"/> (128×128 blocks, 8×8 per thread).</summary>
    Tile128,
}

public static partial class GpuGemm
{
    private static readonly MethodInfo s_kernel = typeof(GpuGemm).GetMethod(nameof(SharedRegisterTiled))!;
    private static readonly MethodInfo s_wideKernel = typeof(GpuGemm).GetMethod(nameof(SharedRegisterTiledWide))!;

    /// <summary>Blocks the wide tile must still give to be chosen: two per SM of a 132-SM H100.</summary>
    public const int WideBlockTarget = 264;

    /// <summary>Most blocks along grid y and z (CUDA's limit).</summary>
    private const int MaxGridYZ = 65535;

    /// <summary>
    /// C[z] = alpha·A[z]·B[z] + beta·C[z] for z = outer * batchInner + inner over batchOuter × batchInner
    /// batches; C is dense [batchOuter * batchInner, m, n]. Overwrites C when beta = 0.
    /// </summary>
    public static void Run(KernelLauncher launcher, GemmOperand a, GemmOperand b, int batchOuter, int batchInner,
        int m, int n, int k, float alpha, float beta, DeviceSpan<float> c, GemmTiling tiling = GemmTiling.Automatic)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (m < 0 || n < 0 || k < 0 || batchOuter < 0 || batchInner < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"gpu gemm: sizes must be non-negative, found m={m}, n={n}, k={k}, batches {batchOuter}x{batchInner}");
        long outputCount = (long)batchOuter * batchInner * m * n;
        if (c.Length < outputCount)
            throw new ArgumentException($"gpu gemm: C expected at least {outputCount} elements ([{batchOuter * batchInner}, {m}, {n}]), found {c.Length}", nameof(c));
        if (outputCount == 0)
            return;
        long wideBlocks = (long)((m + WideTile - 1) / WideTile) * ((n + WideTile - 1) / WideTile) * batchOuter * batchInner;
        bool wide = tiling == GemmTiling.Tile128 || (tiling == GemmTiling.Automatic && wideBlocks >= WideBlockTarget);
        int tile = wide ? WideTile : TileRows;
        int blocksY = (m + tile - 1) / tile;
        if (blocksY > MaxGridYZ)
            throw new ArgumentOutOfRangeException(nameof(m), $"gpu gemm: m={m} needs {blocksY} row tiles, more than the grid allows ({MaxGridYZ}); split the rows");
        var grid = new Dim3((n + tile - 1) / tile, blocksY, 1);
        var block = new Dim3(ThreadsPerSide, ThreadsPerSide);
        // Outer batches in chunks that keep the grid's z within its limit.
        int outerPerLaunch = Math.Max(1, MaxGridYZ / Math.Max(batchInner, 1));
        if (batchInner > MaxGridYZ)
            throw new ArgumentOutOfRangeException(nameof(batchInner), $"gpu gemm: {batchInner} inner batches exceed the grid's z limit {MaxGridYZ}; fold them into the outer batch");
        for (int outer = 0; outer < batchOuter; outer += outerPerLaunch)
        {
            int outers = Math.Min(outerPerLaunch, batchOuter - outer);
            DeviceSpan<float> aView = Tail(a.Data, (long)outer * a.BatchOuterStride);
            DeviceSpan<float> bView = Tail(b.Data, (long)outer * b.BatchOuterStride);
            DeviceSpan<float> cView = Tail(c, (long)outer * batchInner * m * n);
            launcher.Launch(wide ? s_wideKernel : s_kernel, grid with { Z = outers * batchInner }, block,
                aView, a.RowStride, a.ColumnStride, a.BatchOuterStride, a.BatchInnerStride,
                bView, b.RowStride, b.ColumnStride, b.BatchOuterStride, b.BatchInnerStride,
                batchInner, m, n, k, alpha, beta, cView);
        }
    }

    /// <summary>C = alpha·A·B + beta·C for one matrix each.</summary>
    public static void Run(KernelLauncher launcher, GemmOperand a, GemmOperand b, int m, int n, int k, float alpha, float beta, DeviceSpan<float> c,
        GemmTiling tiling = GemmTiling.Automatic) =>
        Run(launcher, a, b, 1, 1, m, n, k, alpha, beta, c, tiling);

    private static DeviceSpan<float> Tail(DeviceSpan<float> span, long start) => span.Slice(checked((int)start), span.Length - (int)start);
}
