namespace Tessera.Engine.Memory;

/// <summary>
/// Keeps released CPU buffers by exact size so a training loop that disposes its step tensors
/// reuses the same buffers every step instead of asking the GC for new ones. Bounded: past
/// <see cref="CapacityBytes"/> returned buffers are simply dropped for the GC.
/// </summary>
public static class CpuMemoryPool
{
    private static readonly Dictionary<int, Stack<byte[]>> Buckets = new();
    private static readonly Lock Gate = new();
    private static long _pooledBytes;

    /// <summary>Most bytes kept for reuse (default 1 GiB).</summary>
    public static long CapacityBytes { get; set; } = 1L << 30;

    public static long PooledBytes
    {
        get
        {
            lock (Gate) return _pooledBytes;
        }
    }

    internal static byte[] Rent(int length)
    {
        lock (Gate)
        {
            if (Buckets.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                _pooledBytes -= length;
                return stack.Pop();
            }
        }
        return GC.AllocateUninitializedArray<byte>(length, pinned: true);
    }

    internal static void Return(byte[] array)
    {
        lock (Gate)
        {
            if (_pooledBytes + array.Length > CapacityBytes)
                return;
            if (!Buckets.TryGetValue(array.Length, out var stack))
                Buckets[array.Length] = stack = new Stack<byte[]>();
            stack.Push(array);
            _pooledBytes += array.Length;
        }
    }

    /// <summary>Drops every pooled buffer.</summary>
    public static void Clear()
    {
        lock (Gate)
        {
            Buckets.Clear();
            _pooledBytes = 0;
        }
    }
}
