using Tessera.Engine.Compiler;

namespace Tessera.Kernels.Gpu;

/// <summary>The GEMM, convolution, pooling, resize and padding kernels of <see cref="GpuKernelTable"/>.</summary>
internal static class GemmConvPoolKernelEntries
{
    public static IEnumerable<KernelEntry> All =>
    [
        KernelEntry.For(typeof(GpuGemm), nameof(GpuGemm.SharedRegisterTiled)),
        KernelEntry.For(typeof(GpuGemm), nameof(GpuGemm.SharedRegisterTiledWide)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.ForwardImplicitGemm)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.BackwardInputImplicitGemm)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.BackwardWeightImplicitGemm)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.SumSlices)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.DepthwiseForward)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.DepthwiseBackwardInput)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.DepthwiseBackwardWeight)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.ChannelSum)),
        KernelEntry.For(typeof(GpuConv2d), nameof(GpuConv2d.AddChannelBias)),
        KernelEntry.For(typeof(GpuPool2d), nameof(GpuPool2d.MaxForward)),
        KernelEntry.For(typeof(GpuPool2d), nameof(GpuPool2d.MaxBackward)),
        KernelEntry.For(typeof(GpuPool2d), nameof(GpuPool2d.AvgForward)),
        KernelEntry.For(typeof(GpuPool2d), nameof(GpuPool2d.AvgBackward)),
        KernelEntry.For(typeof(GpuPool2d), nameof(GpuPool2d.AdaptiveAvgForward)),
        KernelEntry.For(typeof(GpuPool2d), nameof(GpuPool2d.AdaptiveAvgBackward)),
        KernelEntry.For(typeof(GpuPool2d), nameof(GpuPool2d.GlobalAvgForward)),
        KernelEntry.For(typeof(GpuUpsample2d), nameof(GpuUpsample2d.NearestForward)),
        KernelEntry.For(typeof(GpuUpsample2d), nameof(GpuUpsample2d.NearestBackward)),
        KernelEntry.For(typeof(GpuUpsample2d), nameof(GpuUpsample2d.BilinearForward)),
        KernelEntry.For(typeof(GpuUpsample2d), nameof(GpuUpsample2d.BilinearBackward)),
        KernelEntry.For(typeof(GpuPad), nameof(GpuPad.Forward)),
        KernelEntry.For(typeof(GpuPad), nameof(GpuPad.Backward)),
    ];
}
