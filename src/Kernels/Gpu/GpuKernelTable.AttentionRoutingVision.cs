using Tessera.Engine.Compiler;

namespace Tessera.Kernels.Gpu;

/// <summary>The attention, routing (Gumbel, routed combine, dropout) and vision kernels of <see cref="GpuKernelTable"/>.</summary>
internal static class AttentionRoutingVisionKernels
{
    public static IEnumerable<KernelEntry> Entries =>
    [
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.Forward)),
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.MaskToBias)),
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.BackwardDelta)),
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.BackwardKeyValue)),
        KernelEntry.For(typeof(FlashAttention), nameof(FlashAttention.BackwardQuery)),
        KernelEntry.For(typeof(Gumbel), nameof(Gumbel.Noise)),
        KernelEntry.For(typeof(Gumbel), nameof(Gumbel.SoftmaxForward)),
        KernelEntry.For(typeof(Gumbel), nameof(Gumbel.SoftmaxBackward)),
        KernelEntry.For(typeof(RoutedCombine), nameof(RoutedCombine.Combine)),
        KernelEntry.For(typeof(RoutedCombine), nameof(RoutedCombine.GradUnits)),
        KernelEntry.For(typeof(RoutedCombine), nameof(RoutedCombine.GradWeights)),
        KernelEntry.For(typeof(Dropout), nameof(Dropout.BernoulliMask)),
        KernelEntry.For(typeof(RoiAlign), nameof(RoiAlign.Forward)),
        KernelEntry.For(typeof(RoiAlign), nameof(RoiAlign.Backward)),
        KernelEntry.For(typeof(Boxes), nameof(Boxes.Iou)),
        KernelEntry.For(typeof(Boxes), nameof(Boxes.Encode)),
        KernelEntry.For(typeof(Boxes), nameof(Boxes.Decode)),
    ];
}
