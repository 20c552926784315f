using Tessera.Engine.Gpu;

namespace Tessera.Tests.Gpu;

/// <summary>Kernels that exist to test one compiler or emulator feature each.</summary>
internal static class TestKernels
{
    private static readonly float s_scale = 3f;

    [Kernel]
    public static void ScaleByStaticReadonly(DeviceSpan<float> input, DeviceSpan<float> output)
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] = input[i] * s_scale;
    }

    [Kernel]
    public static void ApplyFunctor<TOp>(DeviceSpan<float> input, TOp op, DeviceSpan<float> output) where TOp : struct, IAffine
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] = op.Apply(input[i]);
    }

    [Kernel]
    public static void FillRepeated(DeviceSpan<float> output, [Specialize] int repeat, float value)
    {
        if (Elementwise.Index(output.Length, out int i))
        {
            float sum = 0f;
            for (int r = 0; r < repeat; r++)
                sum += value;
            output[i] = sum;
        }
    }

    [Kernel]
    public static void Atomics(DeviceSpan<float> values, DeviceSpan<float> floatSum, DeviceSpan<float> floatMax, DeviceSpan<int> intMin, DeviceSpan<int> intMax, DeviceSpan<int> claims, DeviceSpan<long> longSum)
    {
        if (!Elementwise.Index(values.Length, out int i))
            return;
        float v = values[i];
        Atomic.Add(ref floatSum[0], v);
        Atomic.Max(ref floatMax[0], v);
        Atomic.Min(ref intMin[0], (int)(v * 1000f));
        Atomic.Max(ref intMax[0], (int)(v * 1000f));
        Atomic.Add(ref longSum[0], (long)i);
        // Every thread tries to claim slot i % 8; exactly one claim per slot wins.
        Fence.Device();
        Atomic.CompareExchange(ref claims[i % 8], i, -1);
    }

    /// <summary>No barrier between the writes and the read: a race.</summary>
    [Kernel]
    public static void RacyLastThreadSum(DeviceSpan<float> input, DeviceSpan<float> output)
    {
        DeviceSpan<float> cache = Shared.Allocate<float>(64);
        int t = Grid.ThreadX;
        cache[t] = input[t];
        if (t == Grid.BlockDimX - 1)
        {
            float sum = 0f;
            for (int i = 0; i < Grid.BlockDimX; i++)
                sum += cache[i];
            output[0] = sum;
        }
    }

    /// <summary>Every thread increments one shared counter, either plainly (a race) or atomically.</summary>
    [Kernel]
    public static void CountThreads(DeviceSpan<int> output, int atomically)
    {
        DeviceSpan<int> counter = Shared.Allocate<int>(1);
        if (Grid.ThreadX == 0)
            counter[0] = 0;
        Block.Barrier();
        if (atomically != 0)
            Atomic.Add(ref counter[0], 1);
        else
            counter[0] += 1;
        Block.Barrier();
        if (Grid.ThreadX == 0)
            output[0] = counter[0];
    }

    /// <summary>A view that points at shared or global memory depending on a parameter: generic addressing.</summary>
    [Kernel]
    public static void MixedSpaces(DeviceSpan<float> input, int useShared, DeviceSpan<float> output)
    {
        DeviceSpan<float> tile = Shared.Allocate<float>(64);
        int t = Grid.ThreadX;
        tile[t] = input[t] * 2f;
        Block.Barrier();
        DeviceSpan<float> source = input;
        if (useShared != 0)
            source = tile;
        output[t] = source[t];
        Block.Barrier();
        Atomic.Add(ref source[0], 1f);
    }

    [Kernel]
    public static void DivergentWarpOperations(DeviceSpan<float> output)
    {
        float v = Grid.ThreadX;
        if (Warp.LaneId < 16)
            v = Warp.ShuffleXor(v, 1);
        else
            Block.Barrier();
        output[Grid.ThreadX] = v;
    }

    [Kernel]
    public static void ShuffleModes(DeviceSpan<int> output)
    {
        int lane = Warp.LaneId;
        int w = Grid.ThreadX / 32 * 32 * 4;
        output[w + lane] = Warp.ShuffleDown(lane * 10, 3);
        output[w + 32 + lane] = Warp.ShuffleUp(lane * 10, 2);
        output[w + 64 + lane] = Warp.Shuffle(lane * 10, 5);
        output[w + 96 + lane] = Warp.ShuffleXor(lane * 10, 7);
    }

    [Kernel]
    public static void MinMax(DeviceSpan<float> x, DeviceSpan<float> y, DeviceSpan<float> output)
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] = MinMaxOp.Apply(x[i], y[i]);
    }

    /// <summary>Warp sums of doubles and longs (64-bit shuffles) and an array of structs.</summary>
    [Kernel]
    public static void WideWarpSums(DeviceSpan<Point2> points, DeviceSpan<double> doubleSums, DeviceSpan<long> longSums)
    {
        int i = Grid.GlobalX;
        Point2 p = points[i];
        double d = (double)p.X * p.Y;
        long l = (long)(p.X * 1e6f) << 8;
        for (int mask = 16; mask > 0; mask >>= 1)
        {
            d += Warp.ShuffleXor(d, mask);
            l += Warp.ShuffleXor(l, mask);
        }
        // Broadcast from lane 0 and shift up by one: every lane ends with the warp totals.
        d = Warp.Shuffle(d, 0);
        l = Warp.ShuffleUp(Warp.ShuffleDown(l, 1), 1);
        if (Warp.LaneId == 5)
        {
            doubleSums[i / 32] = d;
            longSums[i / 32] = l;
        }
    }

    [Kernel]
    public static void Conversions(DeviceSpan<float> input, DeviceSpan<int> asInt, DeviceSpan<uint> asUnsigned, DeviceSpan<long> asLong, DeviceSpan<double> asDouble, DeviceSpan<short> asShort)
    {
        if (!Elementwise.Index(input.Length, out int i))
            return;
        float x = input[i];
        asInt[i] = (int)x;
        asUnsigned[i] = (uint)MathF.Abs(x) >> 1;
        asLong[i] = (long)x * 3_000_000_000L;
        asDouble[i] = x / 3.0;
        asShort[i] = (short)((int)x * 1000);
    }
}

public interface IAffine
{
    float Apply(float x);
}

public struct Affine : IAffine
{
    public float Scale;
    public float Bias;

    public readonly float Apply(float x) => x * Scale + Bias;
}

/// <summary>f16 through System.Half: stored as 16 bits, computed in f32.</summary>
public readonly struct HalfScale : IUnaryOp<Half>
{
    public static Half Apply(Half x) => (Half)((float)x * 2.5f + 1f);
}

/// <summary>MathF.Min/Max and Math.Min/Max propagate NaN as .NET does.</summary>
public readonly struct MinMaxOp : IBinaryOp<float>
{
    public static float Apply(float x, float y) => MathF.Min(x, y) + 10f * MathF.Max(x, -y) + (float)Math.Max((double)x, (double)y);
}

/// <summary>Thread 0 waits (spins) until the last thread of the block has published a flag.</summary>
internal static class SpinKernels
{
    [Kernel]
    public static void WaitForLastThread(DeviceSpan<int> flag, DeviceSpan<int> output)
    {
        int t = Grid.ThreadX;
        if (t == 0)
        {
            int spins = 0;
            while (Atomic.CompareExchange(ref flag[0], 0, 0) == 0)
                spins++;
            output[0] = 1;
        }
        else if (t == Grid.BlockDimX - 1)
        {
            Fence.Device();
            Atomic.Exchange(ref flag[0], 1);
        }
    }
}
