using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Engine.Memory;

/// <summary>
/// CPU memory: a pinned array on the pinned object heap, addressed from a 64-byte aligned start
/// so AVX-512 loads never split cache lines. Fresh memory is uninitialised unless asked for.
/// </summary>
public sealed unsafe class CpuStorage : Storage
{
    public const int Alignment = 64;

    private byte[]? _array;
    private readonly byte* _pointer;

    private CpuStorage(byte[] array, long byteLength) : base(Device.Cpu, byteLength)
    {
        _array = array;
        nuint start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        _pointer = (byte*)((start + Alignment - 1) & ~(nuint)(Alignment - 1));
    }

    /// <summary>Allocates <paramref name="byteLength"/> bytes; zeroed when <paramref name="zero"/>.</summary>
    public static CpuStorage Allocate(long byteLength, bool zero)
    {
        if (byteLength > int.MaxValue - Alignment)
            throw new ArgumentOutOfRangeException(nameof(byteLength), byteLength, $"a CPU tensor holds at most {int.MaxValue - Alignment} bytes; split the work into smaller tensors");
        byte[] array = CpuMemoryPool.Rent((int)byteLength + Alignment);
        var storage = new CpuStorage(array, byteLength);
        if (zero)
            new Span<byte>(storage._pointer, (int)byteLength).Clear();
        return storage;
    }

    /// <summary>Start of the buffer (64-byte aligned).</summary>
    public byte* Pointer
    {
        get
        {
            ThrowIfReleased();
            return _pointer;
        }
    }

    /// <summary>A typed span over <paramref name="count"/> elements starting at element <paramref name="offset"/>.</summary>
    public Span<T> AsSpan<T>(int offset, int count) where T : unmanaged
    {
        ThrowIfReleased();
        if ((long)(offset + count) * sizeof(T) > ByteLength || offset < 0 || count < 0)
            throw new ArgumentOutOfRangeException(nameof(count), $"elements [{offset}, {offset + count}) of {typeof(T).Name} lie outside a storage of {ByteLength} bytes");
        return new Span<T>((T*)_pointer + offset, count);
    }

    protected override void Free()
    {
        byte[]? array = Interlocked.Exchange(ref _array, null);
        if (array is not null)
            CpuMemoryPool.Return(array);
    }
}
