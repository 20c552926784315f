using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// The inner step every tiled product here shares (GEMM and the implicit-GEMM convolutions): a
/// 64×64 block tile held as two [16][66] shared tiles, 16×16 threads, thread (ty, tx) owning rows
/// ty + 16i and columns tx + 16j of the tile in a 4×4 register accumulator.
/// </summary>
internal static class RegisterTile
{
    public const int Rows = 64;
    public const int Columns = 64;
    public const int Depth = 16;
    public const int ThreadsPerSide = 16;
    public const int PerThread = 4;
    public const int Threads = ThreadsPerSide * ThreadsPerSide;

    /// <summary>Floats between consecutive k rows of a shared tile: 66 ≡ 2 (mod 32 banks) keeps k-contiguous stores conflict-free.</summary>
    public const int SharedStride = Rows + 2;

    /// <summary>Operand elements each thread moves per k step (64·16 / 256).</summary>
    public const int LoadsPerThread = Rows * Depth / Threads;

    /// <summary>accumulator[i, j] += Σ_kk tileA[kk, ty + 16i] · tileB[kk, tx + 16j] over one shared k step.</summary>
    public static void MultiplyAccumulate(DeviceSpan<float> tileA, DeviceSpan<float> tileB, DeviceSpan<float> accumulator,
        DeviceSpan<float> fragmentA, DeviceSpan<float> fragmentB, int tx, int ty)
    {
        for (int kk = 0; kk < Depth; kk++)
        {
            // A warp reads 2 A values (broadcast) and 16 consecutive B values: conflict-free.
            for (int i = 0; i < PerThread; i++)
                fragmentA[i] = tileA[kk * SharedStride + ty + i * ThreadsPerSide];
            for (int j = 0; j < PerThread; j++)
                fragmentB[j] = tileB[kk * SharedStride + tx + j * ThreadsPerSide];
            for (int i = 0; i < PerThread; i++)
                for (int j = 0; j < PerThread; j++)
                    accumulator[i * PerThread + j] = MathF.FusedMultiplyAdd(fragmentA[i], fragmentB[j], accumulator[i * PerThread + j]);
        }
    }
}
