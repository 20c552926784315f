using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>An emulated device with a launcher and the buffers a test uploads; disposes them all.</summary>
internal sealed class GpuOpsBench : IDisposable
{
    private readonly List<IDisposable> _buffers = [];

    /// <summary>Shuffled block and thread order, to expose races and missing barriers.</summary>
    public GpuOpsBench(int shuffleSeed = 3)
    {
        Driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = shuffleSeed });
        Launcher = new KernelLauncher(Driver);
    }

    public PtxEmulatorDriver Driver { get; }

    public KernelLauncher Launcher { get; }

    public DeviceBuffer<T> Upload<T>(T[] data) where T : unmanaged
    {
        var buffer = DeviceBuffer<T>.From(Driver, data);
        _buffers.Add(buffer);
        return buffer;
    }

    /// <summary>A fresh buffer (NaN-filled by the emulator, so unwritten elements show).</summary>
    public DeviceBuffer<T> Allocate<T>(int length) where T : unmanaged
    {
        var buffer = DeviceBuffer<T>.Allocate(Driver, Math.Max(length, 1));
        _buffers.Add(buffer);
        return buffer;
    }

    public static DeviceSpan<T> View<T>(DeviceBuffer<T> buffer, int length) where T : unmanaged =>
        DeviceSpan<T>.FromAddress(buffer.Pointer.Address, length);

    /// <summary>|actual - expected| &lt;= atol + rtol·|expected| everywhere, NaN matching NaN; the failure names the worst element.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float atol, float rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int worst = -1;
        double worstDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNaN(expected[i]) || float.IsNaN(actual[i]))
            {
                if (float.IsNaN(expected[i]) != float.IsNaN(actual[i]))
                    Assert.Fail($"{what}: element {i} is {actual[i]}, expected {expected[i]}");
                continue;
            }
            double diff = expected[i] == actual[i] ? 0 : Math.Abs((double)actual[i] - expected[i]);
            if (diff > atol + rtol * Math.Abs(expected[i]) && diff >= worstDiff)
            {
                worst = i;
                worstDiff = diff;
            }
        }
        Assert.True(worst < 0, worst < 0 ? "" : $"{what}: element {worst} is {actual[worst]}, expected {expected[worst]} (|diff| = {worstDiff}, atol {atol}, rtol {rtol})");
    }

    public void Dispose()
    {
        foreach (IDisposable buffer in _buffers)
            buffer.Dispose();
        Launcher.Dispose();
        Driver.Dispose();
    }
}
