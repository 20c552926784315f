using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Xunit;

namespace Tessera.Tests.Gpu;

public class GpuStorageTests
{
    [Fact]
    public void LastReleaseFreesDeviceMemory()
    {
        using var driver = (PtxEmulatorDriver)GpuDevices.Open(Device.Parse("cuda-emu"));
        GpuStorage storage = GpuStorage.Allocate(driver, Device.Parse("cuda-emu"), 64, zero: true);
        var bytes = new byte[64];
        driver.CopyToHost(bytes, storage.Pointer);
        Assert.All(bytes, b => Assert.Equal(0, b));
        storage.Retain();
        storage.Release();
        Assert.Equal(64, driver.BytesInUse);
        storage.Release();
        Assert.Equal(0, driver.BytesInUse);
        Assert.Throws<ObjectDisposedException>(() => storage.Pointer);
    }

    [Fact]
    public void CpuDeviceIsRejected()
    {
        using var driver = new PtxEmulatorDriver();
        var error = Assert.Throws<TensorDeviceException>(() => GpuStorage.Allocate(driver, Device.Cpu, 16, zero: false));
        Assert.Contains("CpuStorage", error.Message, StringComparison.Ordinal);
        Assert.Throws<TensorDeviceException>(() => GpuDevices.Open(Device.Cpu));
    }
}
