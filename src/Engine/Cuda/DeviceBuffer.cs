using System.Runtime.InteropServices;
using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda;

/// <summary>An owned device allocation of <see cref="Length"/> elements; Dispose frees it.</summary>
public sealed class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    private readonly IDriver _driver;
    private bool _disposed;

    private DeviceBuffer(IDriver driver, int length)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        _driver = driver;
        Length = length;
        Pointer = driver.Allocate((long)length * Marshal.SizeOf<T>());
    }

    public int Length { get; }

    public DevicePointer Pointer { get; }

    /// <summary>The view to pass to a kernel.</summary>
    public DeviceSpan<T> View
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return DeviceSpan<T>.FromAddress(Pointer.Address, Length);
        }
    }

    /// <summary>A fresh allocation; its contents are undefined (the emulator fills it with NaN bytes).</summary>
    public static DeviceBuffer<T> Allocate(IDriver driver, int length) => new(driver, length);

    public static DeviceBuffer<T> From(IDriver driver, ReadOnlySpan<T> data)
    {
        var buffer = new DeviceBuffer<T>(driver, data.Length);
        buffer.CopyFrom(data);
        return buffer;
    }

    public void CopyFrom(ReadOnlySpan<T> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (data.Length != Length)
            throw new ArgumentException($"copy of {data.Length} elements into a device buffer of {Length}; sizes must match", nameof(data));
        _driver.CopyToDevice(Pointer, MemoryMarshal.AsBytes(data));
    }

    public void CopyTo(Span<T> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (destination.Length != Length)
            throw new ArgumentException($"copy of a device buffer of {Length} elements into {destination.Length}; sizes must match", nameof(destination));
        _driver.CopyToHost(MemoryMarshal.AsBytes(destination), Pointer);
    }

    public T[] ToArray()
    {
        var result = new T[Length];
        CopyTo(result);
        return result;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _driver.Free(Pointer);
    }
}
