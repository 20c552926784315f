namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Global memory of the emulated device: every allocation is its own byte array, addressed as
/// (allocation index &lt;&lt; 40) + offset so each access is bounds-checked against its allocation.
/// Fresh allocations are filled with 0xFF bytes: NaN as f32/f64, -1 as integers.
/// </summary>
internal sealed class EmulatorMemory
{
    public const int IndexShift = 40;
    public const ulong OffsetMask = (1UL << IndexShift) - 1;
    public const byte Poison = 0xFF;

    private byte[]?[] _allocations = new byte[]?[16];
    private int _count = 1;
    private readonly object _gate = new();

    /// <summary>
    /// The allocations by index (entry 0 and freed ones are null). Launches read it without locking:
    /// the driver is used from one thread, so nothing allocates or frees while a kernel runs.
    /// </summary>
    public byte[]?[] Table => _allocations;

    public long BytesInUse { get; private set; }

    public DevicePointer Allocate(long bytes)
    {
        if (bytes <= 0 || bytes > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"the emulator allocates 1 byte to 2 GiB per allocation; asked for {bytes}");
        var data = new byte[bytes];
        Array.Fill(data, Poison);
        lock (_gate)
        {
            if (_count == _allocations.Length)
                Array.Resize(ref _allocations, _count * 2);
            _allocations[_count] = data;
            BytesInUse += bytes;
            return new DevicePointer((ulong)_count++ << IndexShift);
        }
    }

    public void Free(DevicePointer pointer)
    {
        lock (_gate)
        {
            (byte[] data, long offset) = Locate(pointer.Address, 0, "free");
            if (offset != 0)
                throw new PtxEmulatorException($"free of {pointer}: not the start of an allocation (offset {offset}); free the pointer Allocate returned");
            BytesInUse -= data.Length;
            _allocations[(int)(pointer.Address >> IndexShift)] = null;
        }
    }

    /// <summary>The bytes [address, address + size) as a span of their allocation, or an exception naming the access.</summary>
    public Span<byte> Span(ulong address, int size, string access)
    {
        (byte[] data, long offset) = Locate(address, size, access);
        return data.AsSpan((int)offset, size);
    }

    private (byte[] Data, long Offset) Locate(ulong address, int size, string access)
    {
        ulong index = address >> IndexShift;
        long offset = (long)(address & OffsetMask);
        byte[]? data = index < (ulong)_allocations.Length ? _allocations[(int)index] : null;
        if (data is null)
            throw new PtxEmulatorException(address == 0
                ? $"{access}: null pointer"
                : $"{access}: address 0x{address:x} is not inside any live allocation (freed, or never allocated)");
        if (offset + size > data.Length)
            throw new PtxEmulatorException($"{access}: out of bounds: bytes [{offset}, {offset + size}) of an allocation of {data.Length} bytes (element {offset / Math.Max(size, 1)} of {data.Length / Math.Max(size, 1)})");
        return (data, offset);
    }
}
