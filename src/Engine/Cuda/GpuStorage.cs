using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Memory;

namespace Tessera.Engine.Cuda;

/// <summary>
/// Tensor memory on a CUDA device (real or emulated): a driver allocation owned through the
/// engine's reference-counted <see cref="Storage"/>. The last release frees it on the driver.
/// </summary>
public sealed class GpuStorage : Storage
{
    private readonly IDriver _driver;
    private readonly GpuContext? _cache;
    private readonly long _blockBytes;
    private DevicePointer _pointer;

    private GpuStorage(IDriver driver, Device device, long byteLength) : base(device, byteLength)
    {
        _driver = driver;
        _pointer = driver.Allocate(Math.Max(byteLength, 1));
    }

    /// <summary>A block of <paramref name="blockBytes"/> from <paramref name="cache"/>'s caching allocator; freeing returns it there.</summary>
    internal GpuStorage(GpuContext cache, DevicePointer pointer, long byteLength, long blockBytes) : base(cache.Device, byteLength)
    {
        _driver = cache.Driver;
        _cache = cache;
        _pointer = pointer;
        _blockBytes = blockBytes;
    }

    /// <summary>Allocates <paramref name="byteLength"/> bytes on <paramref name="driver"/>, zeroed when <paramref name="zero"/>.</summary>
    public static GpuStorage Allocate(IDriver driver, Device device, long byteLength, bool zero)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(device);
        if (device.IsCpu)
            throw new TensorDeviceException($"GpuStorage needs a CUDA device, got '{device}'; use CpuStorage for CPU tensors", nameof(device));
        var storage = new GpuStorage(driver, device, byteLength);
        if (zero)
            driver.Memset(storage._pointer, 0, Math.Max(byteLength, 1));
        return storage;
    }

    public IDriver Driver => _driver;

    /// <summary>The device address of the first byte.</summary>
    public DevicePointer Pointer
    {
        get
        {
            ThrowIfReleased();
            return _pointer;
        }
    }

    protected override void Free()
    {
        DevicePointer pointer = _pointer;
        _pointer = default;
        if (pointer.IsNull)
            return;
        if (_cache is not null)
            _cache.Return(pointer, _blockBytes);
        else
            _driver.Free(pointer);
    }
}

/// <summary>Opens the driver behind a <see cref="Device"/>: the emulator for cuda-emu, libcuda for cuda.</summary>
public static class GpuDevices
{
    public static IDriver Open(Device device, PtxEmulatorOptions? emulatorOptions = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.Kind switch
        {
            DeviceKind.CudaEmulated => new PtxEmulatorDriver(emulatorOptions),
            DeviceKind.Cuda => CudaDriver.TryCreate(out string reason, device.Index)
                ?? throw new TensorDeviceException($"device '{device}' is not available: {reason}. Use 'cuda-emu' to run the GPU path on the PTX emulator."),
            _ => throw new TensorDeviceException($"device '{device}' is not a CUDA device; expected 'cuda', 'cuda:N' or 'cuda-emu'"),
        };
    }
}
