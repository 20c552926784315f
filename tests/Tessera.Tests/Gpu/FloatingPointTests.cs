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
