using System.Reflection;
using System.Runtime.InteropServices;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>The same kernel run as plain C# and on the emulator gives the same bits.</summary>
public class LanguageTests
{
    private static MethodInfo Kernel(string name) => typeof(LanguageKernels).GetMethod(name)!;

    [Fact]
    public void ControlFlowMatchesCpu()
    {
        var random = new Random(31);
        int[] input = Enumerable.Range(0, 300).Select(_ => random.Next(-50_000, 50_000)).ToArray();
        int[] cpu = new int[input.Length];
        var pins = new List<GCHandle>();
        DeviceSpan<int> vi = GpuTestSupport.Pin(input, pins), vo = GpuTestSupport.Pin(cpu, pins);
        CpuGrid.Launch(3, 128, () => LanguageKernels.ControlFlow(vi, vo));
        GpuTestSupport.Unpin(pins);

        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var din = DeviceBuffer<int>.From(driver, input);
        using var dout = DeviceBuffer<int>.Allocate(driver, input.Length);
        launcher.Launch(Kernel(nameof(LanguageKernels.ControlFlow)), 3, 128, din, dout);
        Assert.Equal(cpu, dout.ToArray());
    }

    [Fact]
    public void StructsMatchCpu()
    {
        float[] xs = GpuTestSupport.RandomFloats(200, 32, -3f, 3f), ys = GpuTestSupport.RandomFloats(200, 33, -3f, 3f);
        float[] cpu = new float[xs.Length];
        var pins = new List<GCHandle>();
        DeviceSpan<float> vx = GpuTestSupport.Pin(xs, pins), vy = GpuTestSupport.Pin(ys, pins), vo = GpuTestSupport.Pin(cpu, pins);
        CpuGrid.Launch(2, 128, () => LanguageKernels.Structs(vx, vy, vo));
        GpuTestSupport.Unpin(pins);

        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, xs);
        using var dy = DeviceBuffer<float>.From(driver, ys);
        using var dout = DeviceBuffer<float>.Allocate(driver, xs.Length);
        launcher.Launch(Kernel(nameof(LanguageKernels.Structs)), 2, 128, dx, dy, dout);
        Assert.Equal(cpu, dout.ToArray());
    }

    [Fact]
    public void SlicesAndRefsMatchCpu()
    {
        float[] data = GpuTestSupport.RandomFloats(150, 34, -300f, 300f);
        data[40] = float.NaN;
        const int offset = 20;
        float[] cpu = new float[data.Length - offset];
        var pins = new List<GCHandle>();
        DeviceSpan<float> vd = GpuTestSupport.Pin(data, pins), vo = GpuTestSupport.Pin(cpu, pins);
        CpuGrid.Launch(3, 64, () => LanguageKernels.SlicesAndRefs(vd, offset, vo));
        GpuTestSupport.Unpin(pins);

        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var dd = DeviceBuffer<float>.From(driver, data);
        using var dout = DeviceBuffer<float>.Allocate(driver, cpu.Length);
        launcher.Launch(Kernel(nameof(LanguageKernels.SlicesAndRefs)), 3, 64, dd, offset, dout);
        Assert.Equal(cpu, dout.ToArray());
    }
}
