using System.Runtime.InteropServices;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu.Samples;
using Xunit;

namespace Tessera.Tests.Gpu;

public class VectorAddTests
{
    private static readonly System.Reflection.MethodInfo s_add = typeof(VectorAdd).GetMethod(nameof(VectorAdd.Add))!;

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(1000)]
    public void EmulatorMatchesReference(int count)
    {
        float[] a = GpuTestSupport.RandomFloats(count, 1), b = GpuTestSupport.RandomFloats(count, 2);
        float[] expected = a.Zip(b, (x, y) => x + y).ToArray();
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = count });
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var output = DeviceBuffer<float>.Allocate(driver, count);
        launcher.Launch(s_add, (count + 127) / 128, 128, da, db, output);
        Assert.Equal(expected, output.ToArray());
    }

    [Fact]
    public void TypedLaunchFromMethodGroup()
    {
        float[] a = GpuTestSupport.RandomFloats(50, 5), b = GpuTestSupport.RandomFloats(50, 6);
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var output = DeviceBuffer<float>.Allocate(driver, 50);
        launcher.Launch(VectorAdd.Add, 1, 64, da.View, db.View, output.View);
        Assert.Equal(a.Zip(b, (x, y) => x + y).ToArray(), output.ToArray());
    }

    [Fact]
    public void RunsAsPlainCSharp()
    {
        float[] a = GpuTestSupport.RandomFloats(300, 3), b = GpuTestSupport.RandomFloats(300, 4), output = new float[300];
        var pins = new List<GCHandle>();
        DeviceSpan<float> va = GpuTestSupport.Pin(a, pins), vb = GpuTestSupport.Pin(b, pins), vo = GpuTestSupport.Pin(output, pins);
        CpuGrid.Launch(3, 128, () => VectorAdd.Add(va, vb, vo));
        GpuTestSupport.Unpin(pins);
        Assert.Equal(a.Zip(b, (x, y) => x + y).ToArray(), output);
    }

    [Fact]
    public void OutOfBoundsAccessIsReported()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var small = DeviceBuffer<float>.Allocate(driver, 10);
        using var output = DeviceBuffer<float>.Allocate(driver, 64);
        // The kernel bounds-checks against output.Length only, so reading a[10..] must fault.
        var error = Assert.Throws<PtxEmulatorException>(() => launcher.Launch(s_add, 1, 64, small, small, output));
        Assert.Contains("out of bounds", error.Message, StringComparison.Ordinal);
        Assert.Contains("VectorAdd_Add", error.Message, StringComparison.Ordinal);
    }
}
