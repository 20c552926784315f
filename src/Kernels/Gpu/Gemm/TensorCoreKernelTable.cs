using Tessera.Engine.Compiler;

namespace Tessera.Kernels.Gpu;

/// <summary>The tensor-core kernels' entries of <see cref="GpuKernelTable"/>.</summary>
internal static class TensorCoreKernelTable
{
    public static IEnumerable<KernelEntry> Entries =>
    [
        KernelEntry.For(typeof(TensorCoreGemm), nameof(TensorCoreGemm.Gemm), typeof(F16Input)),
        KernelEntry.For(typeof(TensorCoreGemm), nameof(TensorCoreGemm.Gemm), typeof(BF16Input)),
    ];
}
