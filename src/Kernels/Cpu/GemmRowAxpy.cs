using System.Numerics;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// C = alpha * op(A) * op(B) + beta * C for row-major float32 matrices (op = optional transpose).
/// The plain reference variant: for each row of C, an axpy per element of A. Correct for every layout,
/// vectorised along rows of C, and simple enough to trust; <see cref="GemmVariants"/> tests the
/// fast variants against it.
/// </summary>
public static unsafe class GemmRowAxpy
{
    private const int RowBlock = 4;
    private const int KBlock = 256;

    /// <param name="a">[m, k] (or [k, m] when transposeA), leading dimension lda.</param>
    /// <param name="b">[k, n] (or [n, k] when transposeB), leading dimension ldb.</param>
    /// <param name="c">[m, n], leading dimension ldc. With beta = 0 its old contents are ignored (overwrite).</param>
    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m == 0 || n == 0)
            return;
        // Dense B rows make the inner loop a contiguous axpy; transpose B once if needed.
        float[]? packed = null;
        if (transposeB)
        {
            packed = GC.AllocateUninitializedArray<float>(k * n, pinned: true);
            fixed (float* p = packed)
            {
                for (int kk = 0; kk < k; kk++)
                    for (int j = 0; j < n; j++)
                        p[kk * n + j] = b[(long)j * ldb + kk];
            }
        }
        fixed (float* packedB = packed)
        {
            float* bRows = packed is null ? b : packedB;
            int bStride = packed is null ? ldb : n;
            int blocks = (m + RowBlock - 1) / RowBlock;
            CpuParallel.ForCost(blocks, 2L * RowBlock * n * k, (from, to) =>
            {
                for (int blockIndex = from; blockIndex < to; blockIndex++)
                {
                    int i0 = blockIndex * RowBlock;
                    int rowsHere = Math.Min(RowBlock, m - i0);
                    for (int r = 0; r < rowsHere; r++)
                        ScaleRow(c + (long)(i0 + r) * ldc, n, beta);
                    for (int k0 = 0; k0 < k; k0 += KBlock)
                    {
                        int kEnd = Math.Min(k, k0 + KBlock);
                        for (int r = 0; r < rowsHere; r++)
                        {
                            float* cRow = c + (long)(i0 + r) * ldc;
                            for (int kk = k0; kk < kEnd; kk++)
                            {
                                float av = transposeA ? a[(long)kk * lda + i0 + r] : a[(long)(i0 + r) * lda + kk];
                                Axpy(alpha * av, bRows + (long)kk * bStride, cRow, n);
                            }
                        }
                    }
                }
            });
        }
    }

    private static void ScaleRow(float* row, int n, float beta)
    {
        if (beta == 0f)
            new Span<float>(row, n).Clear();
        else if (beta != 1f)
            for (int j = 0; j < n; j++) row[j] *= beta;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float alpha, float* x, float* y, int n)
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = new Vector<float>(alpha);
            int width = Vector<float>.Count;
            for (; j <= n - width; j += width)
            {
                var vy = Unsafe.ReadUnaligned<Vector<float>>(y + j);
                var vx = Unsafe.ReadUnaligned<Vector<float>>(x + j);
                Unsafe.WriteUnaligned(y + j, vy + va * vx);
            }
        }
        for (; j < n; j++) y[j] += alpha * x[j];
    }
}
