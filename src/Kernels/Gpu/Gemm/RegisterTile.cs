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
        DeviceSpan<float> fragmentA, DeviceSpan<float> fragmentB, int tx, int ty) =>
        MultiplyAccumulate(tileA, tileB, accumulator, fragmentA, fragmentB, tx, ty, PerThread, SharedStride);

    /// <summary>
    /// The same step for a perThread² register tile over shared tiles of row stride sharedStride; both
    /// must be constants at the call (the loops unroll and the tiles stay in registers once inlined).
    /// </summary>
    public static void MultiplyAccumulate(DeviceSpan<float> tileA, DeviceSpan<float> tileB, DeviceSpan<float> accumulator,
        DeviceSpan<float> fragmentA, DeviceSpan<float> fragmentB, int tx, int ty, int perThread, int sharedStride)
    {
        for (int kk = 0; kk < Depth; kk++)
        {
            // A warp reads 2 A values (broadcast) and 16 consecutive B values: conflict-free.
            for (int i = 0; i < perThread; i++)
                fragmentA[i] = tileA[kk * sharedStride + ty + i * ThreadsPerSide];
            for (int j = 0; j < perThread; j++)
                fragmentB[j] = tileB[kk * sharedStride + tx + j * ThreadsPerSide];
            for (int i = 0; i < perThread; i++)
                for (int j = 0; j < perThread; j++)
                    accumulator[i * perThread + j] = MathF.FusedMultiplyAdd(fragmentA[i], fragmentB[j], accumulator[i * perThread + j]);
        }
    }
}
