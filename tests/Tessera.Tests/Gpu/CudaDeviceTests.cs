using Tessera.Engine.Cuda;
using Tessera.Kernels.Gpu.Samples;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>The same kernels on a real NVIDIA GPU through the driver API; skipped without libcuda and a device.</summary>
public class CudaDeviceTests
{
    [Fact]
    public void TryCreateExplainsWhyNoDeviceIsAvailable()
    {
        using CudaDriver? driver = CudaDriver.TryCreate(out string reason);
        if (driver is null)
            Assert.False(string.IsNullOrWhiteSpace(reason));
        else
            Assert.False(string.IsNullOrWhiteSpace(driver.Device.Name));
    }

    [CudaFact]
    public void VectorAddOnDevice()
    {
        using CudaDriver driver = CudaDriver.TryCreate(out string reason) ?? throw new InvalidOperationException(reason);
        using var launcher = new KernelLauncher(driver);
        float[] a = GpuTestSupport.RandomFloats(10_000, 1), b = GpuTestSupport.RandomFloats(10_000, 2);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var output = DeviceBuffer<float>.Allocate(driver, a.Length);
        launcher.Launch(typeof(VectorAdd).GetMethod(nameof(VectorAdd.Add))!, (a.Length + 255) / 256, 256, da, db, output);
        driver.Synchronize();
        Assert.Equal(a.Zip(b, (x, y) => x + y).ToArray(), output.ToArray());
    }

    [CudaFact]
    public void SgemmOnDeviceMatchesEmulator()
    {
        using CudaDriver driver = CudaDriver.TryCreate(out string reason) ?? throw new InvalidOperationException(reason);
        using var emulator = new Tessera.Engine.Cuda.Emulator.PtxEmulatorDriver();
        const int n = 64;
        float[] a = GpuTestSupport.RandomFloats(n * n, 3), b = GpuTestSupport.RandomFloats(n * n, 4);
        float[] Run(IDriver d)
        {
            using var launcher = new KernelLauncher(d);
            using var da = DeviceBuffer<float>.From(d, a);
            using var db = DeviceBuffer<float>.From(d, b);
            using var dc = DeviceBuffer<float>.Allocate(d, n * n);
            launcher.Launch(typeof(Sgemm).GetMethod(nameof(Sgemm.SharedRegisterTiled))!, new Tessera.Engine.Gpu.Dim3(2, 2), new Tessera.Engine.Gpu.Dim3(16, 16), da, db, n, n, n, dc);
            d.Synchronize();
            return dc.ToArray();
        }
        Assert.Equal(Run(emulator), Run(driver));
    }
}
