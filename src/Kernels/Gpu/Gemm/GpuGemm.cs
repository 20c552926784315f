using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Batched f32 GEMM C[b] = alpha·A[b]·B[b] + beta·C[b] with 64×64 block tiles staged through shared
/// memory in steps of 16 along k, a 4×4 register tile per thread (256 threads) and the next k step
/// prefetched into registers while the current one is multiplied. Operands are read through
/// element strides (row, column, and two batch levels), so transposed views and broadcast batches
/// (batch stride 0) need no copy; C is dense [batch, m, n].
/// </summary>
public static partial class GpuGemm
{
    /// <summary>Rows (of C) per block tile.</summary>
    public const int TileRows = RegisterTile.Rows;

    /// <summary>Columns (of C) per block tile.</summary>
    public const int TileColumns = RegisterTile.Columns;

    /// <summary>Depth (k) per shared-memory step.</summary>
    public const int TileDepth = RegisterTile.Depth;

    /// <summary>Threads per block side; each thread owns a <see cref="ThreadTile"/>² register tile.</summary>
    public const int ThreadsPerSide = RegisterTile.ThreadsPerSide;

    /// <summary>Rows and columns of C per thread.</summary>
    public const int ThreadTile = RegisterTile.PerThread;

    /// <summary>Threads per block.</summary>
    public const int Threads = ThreadsPerSide * ThreadsPerSide;

    private const int SharedStride = RegisterTile.SharedStride;
    private const int LoadsPerThread = RegisterTile.LoadsPerThread;

    /// <summary>
    /// Launch with 16×16 threads and a grid of (ceil(n/64), ceil(m/64), batchCount). Batch index z
    /// = outer * batchInner + inner reads A at z's outer * aBatchOuter + inner * aBatchInner (likewise B).
    /// Overwrites C when beta = 0 (its old contents are not read), else C = alpha·AB + beta·C.
    /// </summary>
    [Kernel]
    public static void SharedRegisterTiled(
        // A(i, l) at a[i * aRowStride + l * aColumnStride + batch offset], logical [batch, m, k]
        DeviceSpan<float> a, int aRowStride, int aColumnStride, int aBatchOuter, int aBatchInner,
        // B(l, j) at b[l * bRowStride + j * bColumnStride + batch offset], logical [batch, k, n]
        DeviceSpan<float> b, int bRowStride, int bColumnStride, int bBatchOuter, int bBatchInner,
        int batchInner, int rowCount, int columnCount, int innerCount, float alpha, float beta,
        // [batch, m, n] dense
        DeviceSpan<float> c)
    {
        DeviceSpan<float> tileA = Shared.Allocate<float>(TileDepth * SharedStride);
        DeviceSpan<float> tileB = Shared.Allocate<float>(TileDepth * SharedStride);
        DeviceSpan<float> accumulator = Local.Allocate<float>(ThreadTile * ThreadTile);
        DeviceSpan<float> fragmentA = Local.Allocate<float>(ThreadTile);
        DeviceSpan<float> fragmentB = Local.Allocate<float>(ThreadTile);
        DeviceSpan<float> nextA = Local.Allocate<float>(LoadsPerThread);
        DeviceSpan<float> nextB = Local.Allocate<float>(LoadsPerThread);
        int tx = Grid.ThreadX, ty = Grid.ThreadY;
        int thread = ty * ThreadsPerSide + tx;
        int rowBase = Grid.BlockY * TileRows, columnBase = Grid.BlockX * TileColumns;
        int z = Grid.BlockZ;
        int outer = z / batchInner, inner = z - outer * batchInner;
        int aBase = outer * aBatchOuter + inner * aBatchInner;
        int bBase = outer * bBatchOuter + inner * bBatchInner;
        // Which way the tile loads walk: along the operand's unit-stride dim, so a warp reads consecutive addresses.
        bool aAlongK = aColumnStride == 1;
        bool bAlongN = bColumnStride == 1 || bRowStride != 1;
        for (int i = 0; i < ThreadTile * ThreadTile; i++)
            accumulator[i] = 0f;

        for (int l = 0; l < LoadsPerThread; l++)
        {
            int e = thread + l * Threads;
            int ar = aAlongK ? e / TileDepth : e % TileRows, ak = aAlongK ? e % TileDepth : e / TileRows;
            int row = rowBase + ar;
            nextA[l] = row < rowCount && ak < innerCount ? a[aBase + row * aRowStride + ak * aColumnStride] : 0f;
            int bk = bAlongN ? e / TileColumns : e % TileDepth, bc = bAlongN ? e % TileColumns : e / TileDepth;
            int column = columnBase + bc;
            nextB[l] = bk < innerCount && column < columnCount ? b[bBase + bk * bRowStride + column * bColumnStride] : 0f;
        }
        for (int k0 = 0; k0 < innerCount; k0 += TileDepth)
        {
            for (int l = 0; l < LoadsPerThread; l++)
            {
                int e = thread + l * Threads;
                int ar = aAlongK ? e / TileDepth : e % TileRows, ak = aAlongK ? e % TileDepth : e / TileRows;
                tileA[ak * SharedStride + ar] = nextA[l];
                int bk = bAlongN ? e / TileColumns : e % TileDepth, bc = bAlongN ? e % TileColumns : e / TileDepth;
                tileB[bk * SharedStride + bc] = nextB[l];
            }
            Block.Barrier();
            int k1 = k0 + TileDepth;
            if (k1 < innerCount)
            {
                // Next step's loads are issued before this step's multiply-adds, hiding their latency.
                for (int l = 0; l < LoadsPerThread; l++)
                {
                    int e = thread + l * Threads;
                    int ar = aAlongK ? e / TileDepth : e % TileRows, ak = k1 + (aAlongK ? e % TileDepth : e / TileRows);
                    int row = rowBase + ar;
                    nextA[l] = row < rowCount && ak < innerCount ? a[aBase + row * aRowStride + ak * aColumnStride] : 0f;
                    int bk = k1 + (bAlongN ? e / TileColumns : e % TileDepth), bc = bAlongN ? e % TileColumns : e / TileDepth;
                    int column = columnBase + bc;
                    nextB[l] = bk < innerCount && column < columnCount ? b[bBase + bk * bRowStride + column * bColumnStride] : 0f;
                }
            }
            RegisterTile.MultiplyAccumulate(tileA, tileB, accumulator, fragmentA, fragmentB, tx, ty);
            Block.Barrier();
        }
        int cBase = z * rowCount * columnCount;
        for (int i = 0; i < ThreadTile; i++)
            for (int j = 0; j < ThreadTile; j++)
            {
                int row = rowBase + ty + i * ThreadsPerSide, column = columnBase + tx + j * ThreadsPerSide;
                if (row < rowCount && column < columnCount)
                {
                    int at = cBase + row * columnCount + column;
                    float value = alpha * accumulator[i * ThreadTile + j];
                    c[at] = beta == 0f ? value : value + beta * c[at];
                }
            }
    }
}
