using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu.Samples;

/// <summary>
/// C = A·B (row-major f32) with 32×32 block tiles staged through shared memory in steps of 16
/// along k, and a 2×2 register tile per thread (16×16 threads per block).
/// </summary>
public static class Sgemm
{
    public const int Tile = 32;
    public const int KTile = 16;
    public const int ThreadTile = 2;
    public const int ThreadsPerSide = Tile / ThreadTile;

    /// <summary>Launch with blocks of 16×16 threads and a grid of ceil(N/32) × ceil(M/32).</summary>
    [Kernel]
    public static void SharedRegisterTiled(
        // [rowCount, innerCount]
        DeviceSpan<float> a,
        // [innerCount, columnCount]
        DeviceSpan<float> b,
        int rowCount,
        int innerCount,
        int columnCount,
        // [rowCount, columnCount]
        DeviceSpan<float> c)
    {
        DeviceSpan<float> tileA = Shared.Allocate<float>(Tile * KTile);
        DeviceSpan<float> tileB = Shared.Allocate<float>(KTile * Tile);
        DeviceSpan<float> accumulator = Local.Allocate<float>(ThreadTile * ThreadTile);
        DeviceSpan<float> fragmentA = Local.Allocate<float>(ThreadTile);
        DeviceSpan<float> fragmentB = Local.Allocate<float>(ThreadTile);
        int tx = Grid.ThreadX, ty = Grid.ThreadY;
        int thread = ty * ThreadsPerSide + tx;
        int rowBase = Grid.BlockY * Tile, columnBase = Grid.BlockX * Tile;
        for (int i = 0; i < ThreadTile * ThreadTile; i++)
            accumulator[i] = 0f;
        for (int k0 = 0; k0 < innerCount; k0 += KTile)
        {
            for (int l = 0; l < Tile * KTile / (ThreadsPerSide * ThreadsPerSide); l++)
            {
                int e = thread + l * ThreadsPerSide * ThreadsPerSide;
                int ar = rowBase + e / KTile, ak = k0 + e % KTile;
                tileA[e] = ar < rowCount && ak < innerCount ? a[ar * innerCount + ak] : 0f;
                int bk = k0 + e / Tile, bc = columnBase + e % Tile;
                tileB[e] = bk < innerCount && bc < columnCount ? b[bk * columnCount + bc] : 0f;
            }
            Block.Barrier();
            for (int kk = 0; kk < KTile; kk++)
            {
                for (int i = 0; i < ThreadTile; i++)
                    fragmentA[i] = tileA[(ty * ThreadTile + i) * KTile + kk];
                for (int j = 0; j < ThreadTile; j++)
                    fragmentB[j] = tileB[kk * Tile + tx * ThreadTile + j];
                for (int i = 0; i < ThreadTile; i++)
                    for (int j = 0; j < ThreadTile; j++)
                        accumulator[i * ThreadTile + j] += fragmentA[i] * fragmentB[j];
            }
            Block.Barrier();
        }
        for (int i = 0; i < ThreadTile; i++)
            for (int j = 0; j < ThreadTile; j++)
            {
                int row = rowBase + ty * ThreadTile + i, column = columnBase + tx * ThreadTile + j;
                if (row < rowCount && column < columnCount)
                    c[row * columnCount + column] = accumulator[i * ThreadTile + j];
            }
    }
}
