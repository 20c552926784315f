using Tessera.Engine.Compiler;

namespace Tessera.Kernels.Gpu;

/// <summary>The attention, routing (Gumbel, routed combine, dropout) and vision kernels of <see cref="GpuKernelTable"/>.</summary>
internal static class AttentionRoutingVisionKernels
{
    public static IEnumerable<KernelEntry> Entries =>
    [
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.Forward)),
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.BackwardDelta)),
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.BackwardKeyValue)),
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.BackwardQuery)),
    ];
}
