using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Kernels.Gpu.Samples;
using Xunit;

namespace Tessera.Tests.Gpu;

public class HalfTests
{
    [Fact]
    public void HalfMapMatchesCpu()
    {
        Half[] x = Enumerable.Range(-300, 600).Select(i => (Half)(i * 0.37f)).Append(Half.NaN).Append(Half.PositiveInfinity).Append((Half)65000f).Append(Half.Epsilon).ToArray();
        var method = typeof(ElementwiseMap).GetMethod("Map")!.MakeGenericMethod(typeof(Half), typeof(HalfScale));
        CompiledKernel k = KernelCompiler.Compile(method);
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<Half>.From(driver, x);
        using var output = DeviceBuffer<Half>.Allocate(driver, x.Length);
        launcher.Launch(k, (x.Length + 127) / 128, 128, 0, input, output);
        Assert.Equal(x.Select(HalfScale.Apply).ToArray(), output.ToArray());
    }
}

public class MinMaxTests
{
    [Fact]
    public void NaNPropagatesLikeDotNet()
    {
        float[] x = [1f, float.NaN, 3f, -2f, float.NaN, 0f];
        float[] y = [2f, 1f, float.NaN, -5f, float.NaN, -0f];
        var method = typeof(ElementwiseMap).GetMethod("Zip")!.MakeGenericMethod(typeof(float), typeof(MinMaxOp));
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, x);
        using var dy = DeviceBuffer<float>.From(driver, y);
        using var output = DeviceBuffer<float>.Allocate(driver, x.Length);
        launcher.Launch(method, 1, 32, dx, dy, output);
        Assert.Equal(x.Zip(y, MinMaxOp.Apply).ToArray(), output.ToArray());
    }
}

public class WideShuffleTests
{
    [Fact]
    public void DoubleAndLongShufflesAndStructViews()
    {
        var random = new Random(41);
        Point2[] points = Enumerable.Range(0, 64).Select(_ => new Point2((float)random.NextDouble() * 4 - 2, (float)random.NextDouble() * 4 - 2)).ToArray();
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<Point2>.From(driver, points);
        using var doubles = DeviceBuffer<double>.Allocate(driver, 2);
        using var longs = DeviceBuffer<long>.Allocate(driver, 2);
        launcher.Launch(typeof(TestKernels).GetMethod(nameof(TestKernels.WideWarpSums))!, 1, 64, input, doubles, longs);
        for (int w = 0; w < 2; w++)
        {
            var warp = points.Skip(32 * w).Take(32).ToArray();
            double expected = warp.Sum(p => (double)p.X * p.Y);
            Assert.True(Math.Abs(expected - doubles.ToArray()[w]) < 1e-12, $"warp {w}: {doubles.ToArray()[w]} vs {expected}");
            Assert.Equal(warp.Sum(p => (long)(p.X * 1e6f) << 8), longs.ToArray()[w]);
        }
    }
}
