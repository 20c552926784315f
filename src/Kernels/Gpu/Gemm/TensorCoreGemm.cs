using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>The 16-bit input format of a tensor-core GEMM: which mma.sync variant multiplies it.</summary>
public interface ITensorCoreInput
{
    static abstract void Mma(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, ref float c0, ref float c1, ref float c2, ref float c3);
}

/// <summary>f16 (System.Half) inputs.</summary>
public readonly struct F16Input : ITensorCoreInput
{
    public static void Mma(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, ref float c0, ref float c1, ref float c2, ref float c3)
        => TensorCore.MmaF16(a0, a1, a2, a3, b0, b1, ref c0, ref c1, ref c2, ref c3);
}

/// <summary>bf16 (<see cref="BFloat16"/>) inputs.</summary>
public readonly struct BF16Input : ITensorCoreInput
{
    public static void Mma(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, ref float c0, ref float c1, ref float c2, ref float c3)
        => TensorCore.MmaBF16(a0, a1, a2, a3, b0, b1, ref c0, ref c1, ref c2, ref c3);
}

/// <summary>
/// C = A·B with 16-bit inputs (f16 or bf16, row-major) and f32 accumulation and output, on tensor
/// cores (mma.sync m16n8k16, sm_80+). A block of 128 threads (2×2 warps) computes a 64×64 tile of
/// C; each warp a 32×32 quarter as 2×4 mma tiles, accumulating in 32 registers per thread. Per
/// step of 32 along k the block stages A (64×32) and B (32×64, stored transposed so the two k
/// values of a fragment register are adjacent) in shared memory as packed 16-bit pairs, with rows
/// padded to 20 words so the fragment loads of a warp hit 32 different banks. Edges are zero-filled,
/// so any sizes work.
/// </summary>
public static class TensorCoreGemm
{
    public const int Tile = 64;
    public const int KStep = 32;
    public const int Threads = 128;

    /// <summary>Words (pairs of 16-bit values) per row of a shared tile: 16 of data, 4 of padding.</summary>
    private const int RowWords = KStep / 2 + 4;

    /// <summary>Launch with <see cref="Threads"/> threads and a grid of ceil(N/64) × ceil(M/64).</summary>
    [Kernel]
    public static void Gemm<TInput>(
        // [rowCount, innerCount] bits of f16 or bf16 values
        DeviceSpan<ushort> a,
        // [innerCount, columnCount] bits of f16 or bf16 values
        DeviceSpan<ushort> b,
        int rowCount,
        int innerCount,
        int columnCount,
        // [rowCount, columnCount]
        DeviceSpan<float> c)
        where TInput : struct, ITensorCoreInput
    {
        DeviceSpan<uint> tileA = Shared.Allocate<uint>(Tile * RowWords);    // [row][k pair]
        DeviceSpan<uint> tileB = Shared.Allocate<uint>(Tile * RowWords);    // [column][k pair]
        DeviceSpan<float> accumulator = Local.Allocate<float>(2 * 4 * 4);   // [m tile][n tile][element]
        int thread = Grid.ThreadX;
        int lane = thread & 31, warp = thread >> 5;
        int warpRow = (warp >> 1) * 32, warpColumn = (warp & 1) * 32;
        int rowBase = Grid.BlockY * Tile, columnBase = Grid.BlockX * Tile;
        for (int i = 0; i < 32; i++)
            accumulator[i] = 0f;
        for (int k0 = 0; k0 < innerCount; k0 += KStep)
        {
            for (int l = 0; l < Tile * KStep / 2 / Threads; l++)
            {
                // A: consecutive threads take consecutive pairs of a row (coalesced 4-byte runs).
                int e = thread + l * Threads;
                int row = e / (KStep / 2), pair = e % (KStep / 2);
                int ar = rowBase + row, ak = k0 + 2 * pair;
                ushort low = ar < rowCount && ak < innerCount ? a[ar * innerCount + ak] : (ushort)0;
                ushort high = ar < rowCount && ak + 1 < innerCount ? a[ar * innerCount + ak + 1] : (ushort)0;
                tileA[row * RowWords + pair] = TensorCore.Pack(low, high);
                // B: consecutive threads take consecutive columns (coalesced 2-byte reads), stored transposed.
                int column = e % Tile, bPair = e / Tile;
                int bk = k0 + 2 * bPair, bc = columnBase + column;
                ushort top = bk < innerCount && bc < columnCount ? b[bk * columnCount + bc] : (ushort)0;
                ushort bottom = bk + 1 < innerCount && bc < columnCount ? b[(bk + 1) * columnCount + bc] : (ushort)0;
                tileB[column * RowWords + bPair] = TensorCore.Pack(top, bottom);
            }
            Block.Barrier();
            for (int ks = 0; ks < KStep / TensorCore.K; ks++)
            {
                int pairBase = ks * TensorCore.K / 2;
                for (int mi = 0; mi < 2; mi++)
                {
                    int aRow = warpRow + mi * TensorCore.M;
                    uint a0 = tileA[(aRow + TensorCore.ARow(lane, 0)) * RowWords + pairBase + TensorCore.AColumn(lane, 0) / 2];
                    uint a1 = tileA[(aRow + TensorCore.ARow(lane, 1)) * RowWords + pairBase + TensorCore.AColumn(lane, 1) / 2];
                    uint a2 = tileA[(aRow + TensorCore.ARow(lane, 2)) * RowWords + pairBase + TensorCore.AColumn(lane, 2) / 2];
                    uint a3 = tileA[(aRow + TensorCore.ARow(lane, 3)) * RowWords + pairBase + TensorCore.AColumn(lane, 3) / 2];
                    for (int ni = 0; ni < 4; ni++)
                    {
                        int bColumn = warpColumn + ni * TensorCore.N + TensorCore.BColumn(lane);
                        uint b0 = tileB[bColumn * RowWords + pairBase + TensorCore.BRow(lane, 0) / 2];
                        uint b1 = tileB[bColumn * RowWords + pairBase + TensorCore.BRow(lane, 1) / 2];
                        int at = (mi * 4 + ni) * 4;
                        TInput.Mma(a0, a1, a2, a3, b0, b1, ref accumulator[at], ref accumulator[at + 1], ref accumulator[at + 2], ref accumulator[at + 3]);
                    }
                }
            }
            Block.Barrier();
        }
        for (int mi = 0; mi < 2; mi++)
            for (int ni = 0; ni < 4; ni++)
                for (int i = 0; i < 4; i++)
                {
                    int row = rowBase + warpRow + mi * TensorCore.M + TensorCore.CRow(lane, i);
                    int column = columnBase + warpColumn + ni * TensorCore.N + TensorCore.CColumn(lane, i);
                    if (row < rowCount && column < columnCount)
                        c[row * columnCount + column] = accumulator[(mi * 4 + ni) * 4 + i];
                }
    }

    /// <summary>C = A·B for f16 inputs: <paramref name="a"/> [rowCount, innerCount], <paramref name="b"/> [innerCount, columnCount], <paramref name="c"/> [rowCount, columnCount] (overwritten).</summary>
    public static void Run(KernelLauncher launcher, DeviceSpan<Half> a, DeviceSpan<Half> b, int rowCount, int innerCount, int columnCount, DeviceSpan<float> c)
        => Launch<F16Input>(launcher, a.Address, a.Length, b.Address, b.Length, rowCount, innerCount, columnCount, c);

    /// <summary>C = A·B for bf16 inputs (shapes as for the f16 overload).</summary>
    public static void Run(KernelLauncher launcher, DeviceSpan<BFloat16> a, DeviceSpan<BFloat16> b, int rowCount, int innerCount, int columnCount, DeviceSpan<float> c)
        => Launch<BF16Input>(launcher, a.Address, a.Length, b.Address, b.Length, rowCount, innerCount, columnCount, c);

    private static void Launch<TInput>(KernelLauncher launcher, ulong a, int aLength, ulong b, int bLength, int rowCount, int innerCount, int columnCount, DeviceSpan<float> c)
        where TInput : struct, ITensorCoreInput
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (rowCount <= 0 || innerCount <= 0 || columnCount <= 0)
            throw new ArgumentOutOfRangeException(nameof(rowCount), $"TensorCoreGemm: sizes must be positive, found rowCount={rowCount}, innerCount={innerCount}, columnCount={columnCount}");
        if (aLength < (long)rowCount * innerCount || bLength < (long)innerCount * columnCount || c.Length < (long)rowCount * columnCount)
            throw new ArgumentException($"TensorCoreGemm: views too short for [{rowCount}x{innerCount}]·[{innerCount}x{columnCount}]: A has {aLength}, B {bLength}, C {c.Length} elements; pass views covering the matrices");
        var grid = new Dim3((columnCount + Tile - 1) / Tile, (rowCount + Tile - 1) / Tile);
        launcher.Launch(Gemm<TInput>, grid, Threads, DeviceSpan<ushort>.FromAddress(a, aLength), DeviceSpan<ushort>.FromAddress(b, bLength), rowCount, innerCount, columnCount, c);
    }
}
