
namespace Tessera.Engine.Cuda;

/// <summary>
/// Everything a CUDA device needs at run time, one instance per device (real or emulated): the
/// driver, the kernel launcher (PTX loaded once per kernel), a stream and a caching allocator.
/// <para>
/// Allocation: sizes round up to a block size (512 B granularity up to 1 MiB, then to 1/8 of the
/// next power of two) and freed blocks go back to a per-size free list, so a training step that
/// allocates the same activation sizes every iteration calls the driver only in its first step
/// (PyTorch's caching allocator works the same way). <see cref="EmptyCache"/> gives cached blocks back.
/// </para>
/// Thread safety: every driver call (launches through <see cref="Launcher"/>, allocations,
/// copies) holds <see cref="KernelLauncher.SyncRoot"/>, so the SIMT trainer's virtual-device
/// threads can share one device.
/// </summary>
public sealed class GpuContext : IDisposable
{
    private static readonly Dictionary<Device, GpuContext> s_contexts = [];
    private readonly Dictionary<long, Stack<DevicePointer>> _free = [];
    private long _cachedBytes;
    private long _bytesInUse;
    private long _peakBytesInUse;
    private bool _disposed;

    private GpuContext(Device device, IDriver driver)
    {
        Device = device;
        Driver = driver;
        Launcher = new KernelLauncher(driver);
    }

    /// <summary>
    /// The context of <paramref name="device"/>, created on first use (the emulator for cuda-emu,
    /// libcuda for cuda, which throws a <see cref="TensorDeviceException"/> naming the reason when
    /// there is no usable GPU — never a silent fallback).
    /// </summary>
    public static GpuContext For(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (s_contexts)
        {
            if (s_contexts.TryGetValue(device, out GpuContext? context) && !context._disposed)
                return context;
            context = new GpuContext(device, GpuDevices.Open(device));
            s_contexts[device] = context;
            return context;
        }
    }

    public Device Device { get; }

    public IDriver Driver { get; }

    /// <summary>Launches kernels on this device (compiled once per kernel, loaded once per device).</summary>
    public KernelLauncher Launcher { get; }

    private object Gate => Launcher.SyncRoot;

    /// <summary>Bytes held by live tensors (block sizes, so a little above the tensors' own sizes).</summary>
    public long BytesInUse => Interlocked.Read(ref _bytesInUse);

    /// <summary>The largest <see cref="BytesInUse"/> since the context was created or <see cref="ResetPeak"/>.</summary>
    public long PeakBytesInUse => Interlocked.Read(ref _peakBytesInUse);

    /// <summary>Bytes in free blocks kept for reuse.</summary>
    public long CachedBytes => Interlocked.Read(ref _cachedBytes);

    public void ResetPeak() => Interlocked.Exchange(ref _peakBytesInUse, BytesInUse);

    /// <summary>Device memory for <paramref name="byteLength"/> bytes, zeroed when <paramref name="zero"/>.</summary>
    public GpuStorage Allocate(long byteLength, bool zero)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteLength);
        ObjectDisposedException.ThrowIf(_disposed, this);
        long block = BlockSize(byteLength);
        DevicePointer pointer;
        lock (Gate)
        {
            if (_free.TryGetValue(block, out Stack<DevicePointer>? stack) && stack.Count > 0)
            {
                pointer = stack.Pop();
                _cachedBytes -= block;
            }
            else
            {
                pointer = AllocateFromDriver(block);
            }
            if (zero)
                Driver.Memset(pointer, 0, block);
            _bytesInUse += block;
            if (_bytesInUse > _peakBytesInUse)
                _peakBytesInUse = _bytesInUse;
        }
        return new GpuStorage(this, pointer, byteLength, block);
    }

    /// <summary>Copies host bytes to device memory.</summary>
    public void CopyToDevice(DevicePointer destination, ReadOnlySpan<byte> source)
    {
        lock (Gate)
            Driver.CopyToDevice(destination, source);
    }

    /// <summary>Copies device memory to host bytes (waits for the launches before it).</summary>
    public void CopyToHost(Span<byte> destination, DevicePointer source)
    {
        lock (Gate)
            Driver.CopyToHost(destination, source);
    }

    /// <summary>Frees every cached block on the driver (live tensors keep theirs).</summary>
    public void EmptyCache()
    {
        lock (Gate)
        {
            foreach (Stack<DevicePointer> stack in _free.Values)
                while (stack.Count > 0)
                    Driver.Free(stack.Pop());
            _free.Clear();
            _cachedBytes = 0;
        }
    }

    internal void Return(DevicePointer pointer, long block)
    {
        lock (Gate)
        {
            _bytesInUse -= block;
            if (_disposed)
                return;
            if (!_free.TryGetValue(block, out Stack<DevicePointer>? stack))
                _free[block] = stack = new Stack<DevicePointer>();
            stack.Push(pointer);
            _cachedBytes += block;
        }
    }

    /// <summary>The block a request of <paramref name="bytes"/> is served from.</summary>
    public static long BlockSize(long bytes)
    {
        const long granularity = 512, small = 1L << 20;
        bytes = Math.Max(bytes, 1);
        if (bytes <= small)
            return (bytes + granularity - 1) / granularity * granularity;
        long power = 1L << (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));
        long step = power / 8;
        return (bytes + step - 1) / step * step;
    }

    private DevicePointer AllocateFromDriver(long block)
    {
        try
        {
            return Driver.Allocate(block);
        }
        catch (CudaException)
        {
            // Out of memory with blocks cached: give them back and try once more.
            foreach (Stack<DevicePointer> stack in _free.Values)
                while (stack.Count > 0)
                    Driver.Free(stack.Pop());
            _free.Clear();
            _cachedBytes = 0;
            return Driver.Allocate(block);
        }
    }

    /// <summary>Frees the cache, unloads kernels and closes the driver; tensors still on the device must not be used afterwards.</summary>
    public void Dispose()
    {
        lock (s_contexts)
        {
            if (_disposed)
                return;
            EmptyCache();
            _disposed = true;
            s_contexts.Remove(Device);
        }
        Launcher.Dispose();
        Driver.Dispose();
    }

    /// <summary>Whether <paramref name="device"/> can run here (cuda-emu always; cuda when a driver and a GPU are present), with the reason when not.</summary>
    public static bool IsAvailable(Device device, out string reason)
    {
        ArgumentNullException.ThrowIfNull(device);
        reason = "";
        if (device.Kind == DeviceKind.CudaEmulated)
            return true;
        if (device.Kind != DeviceKind.Cuda)
        {
            reason = $"'{device}' is not a CUDA device";
            return false;
        }
        using IDriver? driver = CudaDriver.TryCreate(out reason, device.Index);
        return driver is not null;
    }
}
