using Tessera.Engine.Gpu;

namespace Tessera.Tests.Gpu;

/// <summary>A point with operators: struct locals, constructors, operator calls and instance methods.</summary>
public readonly struct Point2(float x, float y)
{
    public float X { get; } = x;
    public float Y { get; } = y;

    public static Point2 operator +(Point2 a, Point2 b) => new(a.X + b.X, a.Y + b.Y);

    public static Point2 operator *(float s, Point2 p) => new(s * p.X, s * p.Y);

    public float Dot(Point2 other) => X * other.X + Y * other.Y;
}

/// <summary>
/// Kernels written in everyday C# (loops with break and continue, while, ternaries, bool and
/// struct locals, out/ref parameters, Slice, unsigned and long arithmetic, Math helpers) that
/// also run as plain C#: the tests compare the emulator with the CPU run.
/// </summary>
internal static class LanguageKernels
{
    [Kernel]
    public static void ControlFlow(DeviceSpan<int> input, DeviceSpan<int> output)
    {
        if (!Elementwise.Index(output.Length, out int i))
            return;
        int x = input[i];
        int steps = 0;
        while (x != 1 && steps < 200)
        {
            x = (x & 1) == 0 ? x / 2 : 3 * x + 1;
            steps++;
        }
        int firstMultipleOfSeven = -1;
        for (int k = 1; k < 100; k++)
        {
            if (k % 2 == 0)
                continue;
            if ((k * input[i]) % 7 == 0)
            {
                firstMultipleOfSeven = k;
                break;
            }
        }
        int bucket;
        switch (Math.Abs(input[i] % 6))
        {
            case 0:
                bucket = 11;
                break;
            case 1:
                bucket = 22;
                break;
            case 2:
            case 3:
                bucket = 33;
                break;
            case 4:
                bucket = Math.Clamp(input[i], -5, 5);
                break;
            default:
                bucket = -1;
                break;
        }
        bool negative = input[i] < 0;
        uint bits = (uint)input[i];
        long wide = (long)input[i] * input[i] * 1000L;
        output[i] = bucket * 100_000 + steps + 1000 * firstMultipleOfSeven + (negative ? 7 : 0) + (int)(bits >> 28) + (int)(wide % 977) + Math.Max(Math.Abs(input[i]) % 13, 3);
    }

    [Kernel]
    public static void Structs(DeviceSpan<float> xs, DeviceSpan<float> ys, DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int i))
            return;
        var p = new Point2(xs[i], ys[i]);
        Point2 q = 2f * p + new Point2(1f, -1f);
        Accumulate(ref q, p);
        Split(q.Dot(p), out float whole, out float fraction);
        output[i] = whole + 10f * fraction;
    }

    [Kernel]
    public static void SlicesAndRefs(DeviceSpan<float> data, int offset, DeviceSpan<float> output)
    {
        DeviceSpan<float> tail = data.Slice(offset, data.Length - offset);
        if (!Elementwise.Index(tail.Length, out int i))
            return;
        ref float target = ref output[i];
        target = tail[i];
        target *= i % 3 == 0 ? 2f : 0.5f;
        if (float.IsNaN(target) || target > 100f)
            target = 100f;
    }

    private static void Accumulate(ref Point2 target, Point2 add) => target += add;

    private static void Split(float value, out float whole, out float fraction)
    {
        whole = MathF.Floor(value);
        fraction = value - whole;
    }
}
