namespace Tessera.Engine.Gpu;

/// <summary>
/// Atomic read-modify-write on global or shared memory (pass <c>ref view[i]</c>). Every method
/// returns the value the memory held before the operation, like CUDA's atomicXxx.
/// </summary>
public static class Atomic
{
    public static int Add(ref int target, int value) => Interlocked.Add(ref target, value) - value;
    public static uint Add(ref uint target, uint value) => Interlocked.Add(ref target, value) - value;
    public static long Add(ref long target, long value) => Interlocked.Add(ref target, value) - value;

    public static float Add(ref float target, float value)
    {
        float old = Volatile.Read(ref target);
        while (true)
        {
            float seen = Interlocked.CompareExchange(ref target, old + value, old);
            if (BitConverter.SingleToInt32Bits(seen) == BitConverter.SingleToInt32Bits(old))
                return old;
            old = seen;
        }
    }

    public static int Min(ref int target, int value)
    {
        int old = Volatile.Read(ref target);
        while (value < old)
        {
            int seen = Interlocked.CompareExchange(ref target, value, old);
            if (seen == old)
                break;
            old = seen;
        }
        return old;
    }

    public static int Max(ref int target, int value)
    {
        int old = Volatile.Read(ref target);
        while (value > old)
        {
            int seen = Interlocked.CompareExchange(ref target, value, old);
            if (seen == old)
                break;
            old = seen;
        }
        return old;
    }

    public static int Exchange(ref int target, int value) => Interlocked.Exchange(ref target, value);

    public static int CompareExchange(ref int target, int value, int comparand) => Interlocked.CompareExchange(ref target, value, comparand);

    public static long CompareExchange(ref long target, long value, long comparand) => Interlocked.CompareExchange(ref target, value, comparand);

    /// <summary>Compares bit patterns, as atom.cas.b32 does.</summary>
    public static float CompareExchange(ref float target, float value, float comparand) => Interlocked.CompareExchange(ref target, value, comparand);

    /// <summary>
    /// f32 maximum: PTX has no atom.max.f32, so this is a CAS loop (written in the kernel subset and
    /// inlined as it stands). NaN arguments are ignored.
    /// </summary>
    public static float Max(ref float target, float value)
    {
        float old = target;
        while (old < value)
        {
            float seen = CompareExchange(ref target, value, old);
            if (BitConverter.SingleToInt32Bits(seen) == BitConverter.SingleToInt32Bits(old))
                break;
            old = seen;
        }
        return old;
    }
}
