using System.Runtime.InteropServices;

namespace Tessera.Engine.Gpu;

/// <summary>
/// A view of device memory: a typed pointer plus an element count. In a kernel it is two scalar
/// parameters (a .u64 address and a .u32 length). Run as plain C# it points at host memory and
/// its indexer is bounds-checked; compiled for the GPU the indexer is an address computation
/// (the emulator bounds-checks every access against the allocation instead).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly unsafe struct DeviceSpan<T> where T : unmanaged
{
    private readonly T* _pointer;
    private readonly int _length;

    public DeviceSpan(T* pointer, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _pointer = pointer;
        _length = length;
    }

    /// <summary>A view of device memory at <paramref name="address"/> (from a driver allocation).</summary>
    public static DeviceSpan<T> FromAddress(ulong address, int length) => new((T*)address, length);

    public int Length => _length;

    /// <summary>The address the view starts at (device or host, depending on who made it).</summary>
    public ulong Address => (ulong)_pointer;

    public ref T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_length)
                throw new IndexOutOfRangeException($"DeviceSpan index {index} is outside [0, {_length}); check the bounds test of the kernel");
            return ref _pointer[index];
        }
    }

    /// <summary>The sub-view [start, start + length).</summary>
    public DeviceSpan<T> Slice(int start, int length)
    {
        if ((uint)start > (uint)_length || (uint)length > (uint)(_length - start))
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {start + length}) is outside [0, {_length})");
        return new DeviceSpan<T>(_pointer + start, length);
    }
}
