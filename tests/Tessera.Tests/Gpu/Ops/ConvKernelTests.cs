using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The implicit-GEMM and depthwise GPU convolutions on the PTX emulator against the CPU Conv2d kernels.</summary>
public class ConvKernelTests
{
    private static Conv2dGeometry Geometry(int batch, int inChannels, int height, int width, int outChannels, int kernelHeight, int kernelWidth,
        int stride = 1, int padding = 0, int dilation = 1, int groups = 1, int? strideWidth = null, int? paddingWidth = null)
    {
        int sw = strideWidth ?? stride, pw = paddingWidth ?? padding;
        return new Conv2dGeometry
        {
            BatchSize = batch, InChannels = inChannels, InHeight = height, InWidth = width, OutChannels = outChannels,
            OutHeight = (height + 2 * padding - dilation * (kernelHeight - 1) - 1) / stride + 1,
            OutWidth = (width + 2 * pw - dilation * (kernelWidth - 1) - 1) / sw + 1,
            KernelHeight = kernelHeight, KernelWidth = kernelWidth, StrideHeight = stride, StrideWidth = sw,
            PaddingHeight = padding, PaddingWidth = pw, DilationHeight = dilation, DilationWidth = dilation, Groups = groups,
        };
    }

    public static TheoryData<string> Cases => ["basic", "strided-dilated-grouped", "depthwise", "many-channels"];

    private static Conv2dGeometry Case(string name) => name switch
    {
        "basic" => Geometry(2, 3, 7, 6, 5, 3, 3, padding: 1),
        "strided-dilated-grouped" => Geometry(2, 4, 9, 8, 6, 2, 3, stride: 2, padding: 1, dilation: 2, groups: 2, strideWidth: 1, paddingWidth: 2),
        "depthwise" => Geometry(2, 3, 7, 7, 3, 3, 3, stride: 2, padding: 1, groups: 3),
        "many-channels" => Geometry(1, 2, 9, 9, 66, 1, 2),          // 2 channel tiles, 2 input-pixel tiles, 9 grad-input k steps
        "split-k" => Geometry(2, 2, 16, 16, 3, 3, 3, padding: 1),   // k = 512 pixels: the weight gradient splits in two
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public unsafe void ForwardAndBackwardMatchCpu(string name)
    {
        Conv2dGeometry g = Case(name);
        float[] x = GpuTestSupport.RandomFloats(g.BatchSize * g.InChannels * g.InPlane, 21);
        float[] w = GpuTestSupport.RandomFloats(g.OutChannels * g.PatchSize, 22);
        float[] bias = GpuTestSupport.RandomFloats(g.OutChannels, 23);
        float[] gy = GpuTestSupport.RandomFloats(g.BatchSize * g.OutChannels * g.OutPlane, 24);
        var y = new float[gy.Length];
        var gx = new float[x.Length];
        var gw = new float[w.Length];
        var gb = new float[bias.Length];
        fixed (float* px = x, pw = w, pb = bias, pgy = gy, py = y, pgx = gx, pgw = gw, pgb = gb)
        {
            Conv2d.Forward(px, pw, pb, g, py);
            Conv2d.BackwardInput(pgy, pw, g, pgx);
            Conv2d.BackwardWeight(px, pgy, g, pgw);
            Conv2d.BackwardBias(pgy, g.BatchSize, g.OutChannels, g.OutPlane, pgb);
        }

        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 9 });
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, x);
        using var dw = DeviceBuffer<float>.From(driver, w);
        using var db = DeviceBuffer<float>.From(driver, bias);
        using var dgy = DeviceBuffer<float>.From(driver, gy);
        using var dy = DeviceBuffer<float>.Allocate(driver, y.Length);
        using var dgx = DeviceBuffer<float>.Allocate(driver, x.Length);
        using var dgw = DeviceBuffer<float>.Allocate(driver, w.Length);
        using var dgb = DeviceBuffer<float>.Allocate(driver, bias.Length);
        using var scratch = DeviceBuffer<float>.Allocate(driver, Math.Max(1, GpuConv2d.WeightScratchLength(g)));
        GpuConv2d.Forward(launcher, dx.View, dw.View, db.View, g, dy.View);
        GpuConv2d.BackwardInput(launcher, dgy.View, dw.View, g, dgx.View);
        GpuConv2d.BackwardWeight(launcher, dx.View, dgy.View, g, scratch.View, dgw.View);
        GpuConv2d.BackwardBias(launcher, dgy.View, g.BatchSize, g.OutChannels, g.OutPlane, dgb.View);
        GpuTestSupport.AssertClose(y, dy.ToArray(), 1e-5f, 1e-5f, $"{name}: forward");
        GpuTestSupport.AssertClose(gx, dgx.ToArray(), 1e-5f, 1e-5f, $"{name}: gradInput");
        GpuTestSupport.AssertClose(gw, dgw.ToArray(), 1e-4f, 1e-5f, $"{name}: gradWeight");
        GpuTestSupport.AssertClose(gb, dgb.ToArray(), 1e-4f, 1e-5f, $"{name}: gradBias");
    }

    [Fact]
    public void WeightGradientSplitsLongSumsAndNotShortOnes()
    {
        Assert.Equal((2, 256), GpuConv2d.WeightSplit(Case("split-k")));
        Assert.Equal(1, GpuConv2d.WeightSplit(Case("many-channels")).Count);
        Assert.Equal(0, GpuConv2d.WeightScratchLength(Case("basic")));
        Assert.Equal(2 * 3 * 18, GpuConv2d.WeightScratchLength(Case("split-k")));
    }

    [Fact]
    public unsafe void SplitKSlicesSumToTheWeightGradient()
    {
        // The kernels directly with 4 slices of 16 over k = 2 images x 25 pixels = 50 (the last slice partial),
        // which the planner would not choose for so short a sum.
        Conv2dGeometry g = Geometry(2, 4, 7, 7, 3, 3, 3, stride: 1, padding: 0, groups: 1);
        float[] x = GpuTestSupport.RandomFloats(g.BatchSize * g.InChannels * g.InPlane, 25);
        float[] gy = GpuTestSupport.RandomFloats(g.BatchSize * g.OutChannels * g.OutPlane, 26);
        var gw = new float[g.OutChannels * g.PatchSize];
        fixed (float* px = x, pgy = gy, pgw = gw)
            Conv2d.BackwardWeight(px, pgy, g, pgw);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 10 });
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, x);
        using var dgy = DeviceBuffer<float>.From(driver, gy);
        using var slices = DeviceBuffer<float>.Allocate(driver, 4 * gw.Length);
        using var dgw = DeviceBuffer<float>.Allocate(driver, gw.Length);
        launcher.Launch(typeof(GpuConv2d).GetMethod(nameof(GpuConv2d.BackwardWeightImplicitGemm))!, new Tessera.Engine.Gpu.Dim3(1, 1, 4), new Tessera.Engine.Gpu.Dim3(16, 16),
            dx, dgy, ConvShape.From(g), 4, 16, slices);
        launcher.Launch(typeof(GpuConv2d).GetMethod(nameof(GpuConv2d.SumSlices))!, 1, 256, slices, 4, dgw);
        GpuTestSupport.AssertClose(gw, dgw.ToArray(), 1e-5f, 1e-5f, "split-k weight gradient");
    }
}
