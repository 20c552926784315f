using Tessera.Autograd;
using Tessera.Engine;
using Xunit;
using F = Tessera.Autograd.Functional;
using static Tessera.Tests.Gpu.Ops.GpuOpCheck;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>Conv2d, ConvTranspose2d, pooling, Interpolate and Pad on cuda-emu against the CPU, forward and backward.</summary>
public class ConvPoolGpuOpTests
{
    [Fact]
    public void Conv2dStridedDilatedGroupedWithBias() =>
        Compare("conv2d", t => F.Conv2d(t[0], t[1], t[2], (2, 1), (1, 2), (2, 1), groups: 2),
            [Input(1, 2, 4, 7, 6), Input(2, 6, 2, 3, 2), Input(3, 6)], atol: 1e-4f);

    [Fact]
    public void DepthwiseConv2d() =>
        Compare("depthwise conv2d", t => F.Conv2d(t[0], t[1], t[2], 2, padding: 1, groups: 3),
            [Input(4, 2, 3, 6, 5), Input(5, 3, 1, 3, 3), Input(6, 3)], atol: 1e-4f);

    [Fact]
    public void ConvTranspose2dWithBiasAndOutputPadding() =>
        Compare("conv_transpose2d", t => F.ConvTranspose2d(t[0], t[1], t[2], (2, 2), (1, 0), (1, 1), groups: 2),
            [Input(7, 2, 4, 3, 4), Input(8, 4, 3, 3, 2), Input(9, 6)], atol: 1e-4f);

    [Fact]
    public void MaxPoolValuesIndicesAndGradient()
    {
        Compare("max_pool2d", t => F.MaxPool2d(t[0], 3, 2, padding: 1, ceilMode: true), [Input(10, 2, 3, 7, 6)]);
        var x = Tensor.FromArray(GpuTestSupport.RandomFloats(2 * 7 * 6, 11), 1, 2, 7, 6);
        var cpu = F.MaxPool2dWithIndices(x, (2, 2), dilation: (2, 1));
        var gpu = F.MaxPool2dWithIndices(x.To(Emulator), (2, 2), dilation: (2, 1));
        Assert.Equal(Emulator, gpu.Indices.Device);
        Assert.Equal(cpu.Indices.ToArray<long>(), gpu.Indices.ToArray<long>());
    }

    [Fact]
    public void AvgAdaptiveAndGlobalPools()
    {
        Compare("avg_pool2d", t => F.AvgPool2d(t[0], 3, 2, padding: 1, countIncludePad: false), [Input(12, 2, 2, 7, 6)]);
        Compare("adaptive_avg_pool2d", t => F.AdaptiveAvgPool2d(t[0], (3, 4)), [Input(13, 2, 2, 7, 6)]);
        Compare("global_avg_pool2d", t => F.GlobalAvgPool2d(t[0]), [Input(14, 2, 3, 5, 4)]);
    }

    [Fact]
    public void InterpolateNearestAndBilinear()
    {
        Compare("nearest x2", t => F.Interpolate(t[0], 2.0), [Input(15, 1, 2, 3, 4)]);
        Compare("nearest to size", t => F.Interpolate(t[0], size: (5, 7)), [Input(16, 2, 1, 4, 3)]);
        Compare("bilinear", t => F.Interpolate(t[0], size: (7, 5), mode: InterpolationMode.Bilinear), [Input(17, 1, 2, 4, 3)]);
        Compare("bilinear align corners", t => F.Interpolate(t[0], size: (3, 8), mode: InterpolationMode.Bilinear, alignCorners: true), [Input(18, 1, 2, 5, 3)]);
    }

    [Fact]
    public void PadEveryMode()
    {
        Compare("reflect", t => F.Pad(t[0], [2, 1, 1, 3], PaddingMode.Reflect), [Input(19, 2, 2, 4, 5)]);
        Compare("replicate", t => F.Pad(t[0], [3, 0, 0, 2], PaddingMode.Replicate), [Input(20, 1, 2, 3, 4)]);
        Compare("circular", t => F.Pad(t[0], [1, 2], PaddingMode.Circular), [Input(21, 2, 3, 4)]);
        Compare("constant with a crop", t => F.Pad(t[0], [1, -1, -1, 2], PaddingMode.Constant, 0.5f), [Input(22, 2, 3, 4, 5)]);
    }
}
