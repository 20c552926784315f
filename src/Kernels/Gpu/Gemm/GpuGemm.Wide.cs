using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

public static partial class GpuGemm
{
    /// <summary>Rows and columns of C per block tile of <see cref="SharedRegisterTiledWide"/>.</summary>
    public const int WideTile = 128;

    /// <summary>Rows and columns of C per thread in <see cref="SharedRegisterTiledWide"/>.</summary>
    public const int WideThreadTile = 8;

    private const int WideSharedStride = WideTile + 2;
    private const int WideLoadsPerThread = WideTile * TileDepth / Threads;

    /// <summary>
    /// <see cref="SharedRegisterTiled"/> with a 128×128 block tile and an 8×8 register tile per thread:
    /// 16 shared loads per 64 FFMAs instead of 8 per 16, so the shared-memory pipe no longer caps it at
    /// half of FP32 peak; for large products (fewer, larger blocks; ~4× the registers).
    /// Launch with 16×16 threads and a grid of (ceil(n/128), ceil(m/128), batchCount). Batch index z
    /// = outer * batchInner + inner reads A at z's outer * aBatchOuter + inner * aBatchInner (likewise B).
    /// Overwrites C when beta = 0 (its old contents are not read), else C = alpha·AB + beta·C.
    /// </summary>
    [Kernel]
    public static void SharedRegisterTiledWide(
        // A(i, l) at a[i * aRowStride + l * aColumnStride + batch offset], logical [batch, m, k]
        DeviceSpan<float> a, int aRowStride, int aColumnStride, int aBatchOuter, int aBatchInner,
        // B(l, j) at b[l * bRowStride + j * bColumnStride + batch offset], logical [batch, k, n]
        DeviceSpan<float> b, int bRowStride, int bColumnStride, int bBatchOuter, int bBatchInner,
        int batchInner, int rowCount, int columnCount, int innerCount, float alpha, float beta,
        // [batch, m, n] dense
        DeviceSpan<float> c)
    {
        DeviceSpan<float> tileA = Shared.Allocate<float>(TileDepth * WideSharedStride);
        DeviceSpan<float> tileB = Shared.Allocate<float>(TileDepth * WideSharedStride);
        DeviceSpan<float> accumulator = Local.Allocate<float>(WideThreadTile * WideThreadTile);
        DeviceSpan<float> fragmentA = Local.Allocate<float>(WideThreadTile);
        DeviceSpan<float> fragmentB = Local.Allocate<float>(WideThreadTile);
        DeviceSpan<float> nextA = Local.Allocate<float>(WideLoadsPerThread);
        DeviceSpan<float> nextB = Local.Allocate<float>(WideLoadsPerThread);
        int tx = Grid.ThreadX, ty = Grid.ThreadY;
        int thread = ty * ThreadsPerSide + tx;
        int rowBase = Grid.BlockY * WideTile, columnBase = Grid.BlockX * WideTile;
        int z = Grid.BlockZ;
        int outer = z / batchInner, inner = z - outer * batchInner;
        int aBase = outer * aBatchOuter + inner * aBatchInner;
        int bBase = outer * bBatchOuter + inner * bBatchInner;
        // Which way the tile loads walk: along the operand's unit-stride dim, so a warp reads consecutive addresses.
        bool aAlongK = aColumnStride == 1;
        bool bAlongN = bColumnStride == 1 || bRowStride != 1;
        for (int i = 0; i < WideThreadTile * WideThreadTile; i++)
            accumulator[i] = 0f;

        for (int l = 0; l < WideLoadsPerThread; l++)
        {
            int e = thread + l * Threads;
            int ar = aAlongK ? e / TileDepth : e % WideTile, ak = aAlongK ? e % TileDepth : e / WideTile;
            int row = rowBase + ar;
            nextA[l] = row < rowCount && ak < innerCount ? a[aBase + row * aRowStride + ak * aColumnStride] : 0f;
            int bk = bAlongN ? e / WideTile : e % TileDepth, bc = bAlongN ? e % WideTile : e / TileDepth;
            int column = columnBase + bc;
            nextB[l] = bk < innerCount && column < columnCount ? b[bBase + bk * bRowStride + column * bColumnStride] : 0f;
        }
        for (int k0 = 0; k0 < innerCount; k0 += TileDepth)
        {
            for (int l = 0; l < WideLoadsPerThread; l++)
            {
                int e = thread + l * Threads;
                int ar = aAlongK ? e / TileDepth : e % WideTile, ak = aAlongK ? e % TileDepth : e / WideTile;
                tileA[ak * WideSharedStride + ar] = nextA[l];
                int bk = bAlongN ? e / WideTile : e % TileDepth, bc = bAlongN ? e % WideTile : e / TileDepth;
                tileB[bk * WideSharedStride + bc] = nextB[l];
            }
            Block.Barrier();
            int k1 = k0 + TileDepth;
            if (k1 < innerCount)
            {
                // Next step's loads are issued before this step's multiply-adds, hiding their latency.
                for (int l = 0; l < WideLoadsPerThread; l++)
                {
                    int e = thread + l * Threads;
                    int ar = aAlongK ? e / TileDepth : e % WideTile, ak = k1 + (aAlongK ? e % TileDepth : e / WideTile);
                    int row = rowBase + ar;
                    nextA[l] = row < rowCount && ak < innerCount ? a[aBase + row * aRowStride + ak * aColumnStride] : 0f;
                    int bk = k1 + (bAlongN ? e / WideTile : e % TileDepth), bc = bAlongN ? e % WideTile : e / TileDepth;
                    int column = columnBase + bc;
                    nextB[l] = bk < innerCount && column < columnCount ? b[bBase + bk * bRowStride + column * bColumnStride] : 0f;
                }
            }
            RegisterTile.MultiplyAccumulate(tileA, tileB, accumulator, fragmentA, fragmentB, tx, ty, WideThreadTile, WideSharedStride);
            Block.Barrier();
        }
        int cBase = z * rowCount * columnCount;
        for (int i = 0; i < WideThreadTile; i++)
            for (int j = 0; j < WideThreadTile; j++)
            {
                int row = rowBase + ty + i * ThreadsPerSide, column = columnBase + tx + j * ThreadsPerSide;
                if (row < rowCount && column < columnCount)
                {
                    int at = cBase + row * columnCount + column;
                    float value = alpha * accumulator[i * WideThreadTile + j];
                    c[at] = beta == 0f ? value : value + beta * c[at];
                }
            }
    }
}
