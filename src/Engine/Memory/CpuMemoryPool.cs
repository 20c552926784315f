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

    /// <summary>
    /// A pinned, 64-byte aligned scratch buffer of at least <paramref name="count"/> floats from the pool, returned on
    /// Dispose: kernels' workspaces (im2col columns, partial sums) reuse the same memory every call
    /// instead of leaving pinned garbage that only a full GC reclaims. A count of 0 gives a null pointer.
    /// </summary>
    public static Workspace RentFloats(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return count == 0 ? default : new Workspace(Rent(checked((int)(count * sizeof(float)) + CpuStorage.Alignment)));
    }

    /// <summary>A pooled pinned buffer; see <see cref="RentFloats"/>.</summary>
    public readonly unsafe struct Workspace : IDisposable
    {
        private readonly byte[]? _array;

        internal Workspace(byte[] array) => _array = array;

        /// <summary>The first float, 64-byte aligned like tensor storage (pinned: valid until Dispose).</summary>
        public float* Floats
        {
            get
            {
                if (_array is null)
                    return null;
                nuint start = (nuint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_array));
                return (float*)((start + CpuStorage.Alignment - 1) & ~(nuint)(CpuStorage.Alignment - 1));
            }
        }

        public void Dispose()
        {
            if (_array is not null)
                Return(_array);
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
