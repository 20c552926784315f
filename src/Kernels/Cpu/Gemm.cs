
namespace Tessera.Kernels.Cpu;

/// <summary>C = alpha·op(A)·op(B) + beta·C, row-major; with beta = 0 the old C is ignored (overwrite).</summary>
public unsafe delegate void GemmKernel(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
    float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

/// <summary>One SGEMM implementation, named by technique.</summary>
public sealed record GemmVariant(string Name, bool IsSupported, GemmKernel Run);

/// <summary>
/// The registry of SGEMM variants that tests, benchmarks and the CLI enumerate. The default is the
/// fastest one this CPU supports; the row-axpy reference stays for testing.
/// </summary>
public static unsafe class GemmVariants
{
    public static readonly GemmVariant RowAxpy = new("GemmRowAxpy", true, GemmRowAxpy.Run);

    public static readonly GemmVariant Avx512Packed = new("GemmAvx512Packed", GemmAvx512Packed.IsSupported, GemmAvx512Packed.Run);

    public static IReadOnlyList<GemmVariant> All { get; } = [Avx512Packed, RowAxpy];

    /// <summary>The variant <see cref="Gemm.Run"/> uses (settable for benchmarks and tests).</summary>
    public static GemmVariant Default { get; set; } = All.First(v => v.IsSupported);
}

/// <summary>The GEMM every op calls: dispatches to <see cref="GemmVariants.Default"/>.</summary>
public static unsafe class Gemm
{
    /// <param name="a">[m, k] (or [k, m] when transposeA), leading dimension lda.</param>
    /// <param name="b">[k, n] (or [n, k] when transposeB), leading dimension ldb.</param>
    /// <param name="c">[m, n], leading dimension ldc. With beta = 0 its old contents are ignored (overwrite).</param>
    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc) =>
        GemmVariants.Default.Run(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
