namespace Tessera.Engine.Memory;

/// <summary>
/// A device buffer shared by a tensor and its views. Ownership is reference counted: the tensor
/// that allocates it holds the first reference, every view takes another, and each tensor's
/// Dispose gives its reference back. The last release returns the memory to its allocator.
/// A storage nobody disposes is reclaimed by the GC like any managed object (no finalizer is
/// involved: CPU memory is a pinned managed array), so Dispose is about prompt reuse, not leaks.
/// </summary>
public abstract class Storage
{
    private int _references = 1;

    protected Storage(Device device, long byteLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteLength);
        Device = device;
        ByteLength = byteLength;
    }

    public Device Device { get; }

    public long ByteLength { get; }

    /// <summary>True once every reference has been released; any further access throws.</summary>
    public bool IsReleased => Volatile.Read(ref _references) <= 0;

    /// <summary>Takes one more reference (a new view of this storage).</summary>
    public void Retain()
    {
        while (true)
        {
            int current = Volatile.Read(ref _references);
            if (current <= 0)
                throw new ObjectDisposedException(GetType().Name, "cannot share a storage that has already been released (a tensor was used after Dispose)");
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
                return;
        }
    }

    /// <summary>Gives one reference back; the last one frees the memory.</summary>
    public void Release()
    {
        int remaining = Interlocked.Decrement(ref _references);
        if (remaining == 0)
            Free();
        else if (remaining < 0)
            throw new InvalidOperationException("storage released more times than it was retained");
    }

    protected void ThrowIfReleased()
    {
        if (IsReleased)
            throw new ObjectDisposedException(GetType().Name, "tensor memory was used after Dispose; keep the tensor alive (or Clone it) until you are done with it");
    }

    /// <summary>Returns the memory to the allocator. Called exactly once.</summary>
    protected abstract void Free();
}
