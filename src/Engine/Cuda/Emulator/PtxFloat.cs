namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Floating-point instructions on raw register bits, exactly per the PTX ISA: f16/f32/f64
/// arithmetic with every rounding modifier the emulator accepts (<see cref="PtxForms"/>), .ftz
/// (subnormal inputs and results become zeros of the same sign) and .sat (results clamp to
/// [0, 1], NaN to +0). Results are computed exactly in double (products of f32/f16 values are
/// exact there, sums exact as a double pair by TwoSum) and rounded once to the destination format.
/// The .approx instructions return the correctly rounded value, which is within the error the ISA
/// states for the hardware (docs/GPU.md lists it). NaN results may differ from the hardware's
/// canonical NaN in their payload bits, never in being NaN.
/// </summary>
internal static class PtxFloat
{
    internal enum Mode { Nearest, Zero, Down, Up }

    public static Mode ModeOf(string rounding) => rounding switch
    {
        "rz" => Mode.Zero,
        "rm" => Mode.Down,
        "rp" => Mode.Up,
        _ => Mode.Nearest,
    };

    /// <summary>Reads <paramref name="bits"/> of an f16, f32 or f64 register as a double (exact).</summary>
    public static double Read(ulong bits, PType type) => type switch
    {
        PType.F16 => (double)BitConverter.UInt16BitsToHalf((ushort)bits),
        PType.F32 => BitConverter.UInt32BitsToSingle((uint)bits),
        _ => BitConverter.UInt64BitsToDouble(bits),
    };

    /// <summary>The bits of <paramref name="value"/> (already representable in <paramref name="type"/>).</summary>
    public static ulong Write(double value, PType type) => type switch
    {
        PType.F16 => BitConverter.HalfToUInt16Bits((Half)value),
        PType.F32 => BitConverter.SingleToUInt32Bits((float)value),
        _ => BitConverter.DoubleToUInt64Bits(value),
    };

    /// <summary>A subnormal of <paramref name="type"/> (f16, f32) becomes a zero of the same sign.</summary>
    public static double Flush(double value, PType type)
    {
        double smallestNormal = type == PType.F16 ? 6.103515625e-05 : type == PType.F32 ? 1.1754943508222875e-38 : 0;
        return value != 0 && Math.Abs(value) < smallestNormal ? Math.CopySign(0.0, value) : value;
    }

    /// <summary>
    /// hi + lo (an exact double pair) rounded once to <paramref name="type"/> in <paramref name="mode"/>;
    /// overflow goes to infinity or the largest finite value as IEEE 754 directs for the mode.
    /// </summary>
    public static double Round(double hi, double lo, PType type, Mode mode)
    {
        if (type == PType.F64)
        {
            if (mode == Mode.Nearest || lo == 0 || !double.IsFinite(hi))
                return hi;
            // hi is lo's nearest double; a directed mode moves one step where lo points.
            bool above = lo > 0;
            return mode switch
            {
                Mode.Up => above ? Math.BitIncrement(hi) : hi,
                Mode.Down => above ? hi : Math.BitDecrement(hi),
                _ => (above == hi < 0) ? (above ? Math.BitIncrement(hi) : Math.BitDecrement(hi)) : hi,
            };
        }
        if (!double.IsFinite(hi) || (hi == 0 && lo == 0))
            return hi;
        int precision = type == PType.F16 ? 11 : 24, minExponent = type == PType.F16 ? -14 : -126;
        double max = type == PType.F16 ? 65504 : float.MaxValue;
        bool negative = hi < 0 || (hi == 0 && lo < 0);
        if (negative)
        {
            (hi, lo) = (-hi, -lo);
            mode = mode == Mode.Down ? Mode.Up : mode == Mode.Up ? Mode.Down : mode;
        }
        int exponent = Math.ILogB(hi);
        if (lo < 0 && hi == Math.ScaleB(1.0, exponent))
            exponent--; // hi + lo lies just below a power of two: the binade below sets the quantum
        exponent = Math.Max(exponent, minExponent);
        double ulp = Math.ScaleB(1.0, exponent - (precision - 1));
        double qHi = hi / ulp, qLo = lo / ulp; // exact: scaling by a power of two
        double n = Math.Floor(qHi);
        double fHi = qHi - n; // exact, in [0, 1)
        if (Math.Sign(fHi + qLo) < 0)
        {
            n -= 1;
            fHi += 1;
        }
        int vsZero = Math.Sign(fHi + qLo), vsHalf = Math.Sign((fHi - 0.5) + qLo);
        bool up = mode switch
        {
            Mode.Nearest => vsHalf > 0 || (vsHalf == 0 && Math.IEEERemainder(n, 2) != 0),
            Mode.Up => vsZero > 0,
            _ => false,
        };
        double result = (up ? n + 1 : n) * ulp;
        if (result > max)
            result = mode is Mode.Nearest or Mode.Up ? double.PositiveInfinity : max;
        return negative ? -result : result;
    }

    /// <summary>Error-free sum: a + b == s + e exactly.</summary>
    public static (double S, double E) TwoSum(double a, double b)
    {
        double s = a + b;
        double bb = s - a;
        return (s, (a - (s - bb)) + (b - bb));
    }

    /// <summary>One float instruction (add, sub, mul, fma, div, min, max, neg, abs, sqrt, rcp, rsqrt, ex2, lg2, sin, cos, tanh, copysign).</summary>
    public static ulong Compute(PInstruction ins, ulong a, ulong b, ulong c)
    {
        PType t = ins.Type;
        if (ins.Kind == PKind.Neg)
            return ins.Ftz ? Write(-Flush(Read(a, t), t), t) : a ^ SignBit(t);
        if (ins.Kind == PKind.Abs && !ins.Ftz)
            return a & ~SignBit(t);
        if (ins.Kind == PKind.Copysign)
            return (b & ~SignBit(t)) | (a & SignBit(t)); // the sign of a, copied into b
        double x = Read(a, t), y = Read(b, t), z = Read(c, t);
        if (ins.Ftz)
            (x, y, z) = (Flush(x, t), Flush(y, t), Flush(z, t));
        Mode mode = ModeOf(ins.Rounding);
        double r = ins.Kind switch
        {
            PKind.Add => Sum(x, y, t, mode),
            PKind.Sub => Sum(x, -y, t, mode),
            PKind.Mul => Round(x * y, t == PType.F64 ? Math.FusedMultiplyAdd(x, y, -(x * y)) : 0, t, mode),
            PKind.Fma => FusedMultiplyAdd(x, y, z, t, mode),
            PKind.Div => t == PType.F32 ? (float)x / (float)y : x / y,
            PKind.Min or PKind.Max => MinMax(ins.Kind == PKind.Min, ins.Modifier == "NaN", x, y),
            PKind.Abs => Math.Abs(x),
            PKind.Sqrt => t == PType.F32 ? MathF.Sqrt((float)x) : Math.Sqrt(x),
            PKind.Rcp => t == PType.F32 ? 1f / (float)x : 1 / x,
            PKind.Rsqrt => t == PType.F32 ? (float)(1 / Math.Sqrt(x)) : 1 / Math.Sqrt(x),
            PKind.Ex2 => (float)Math.Pow(2, x),
            PKind.Lg2 => (float)Math.Log2(x),
            PKind.Sin => (float)Math.Sin(x),
            PKind.Cos => (float)Math.Cos(x),
            PKind.Tanh => (float)Math.Tanh(x),
            _ => throw new PtxEmulatorException($"{ins.Kind} is not a floating-point instruction"),
        };
        if (ins.Ftz)
            r = Flush(r, t);
        if (ins.Sat)
            r = double.IsNaN(r) ? 0 : Math.Clamp(r, 0, 1);
        return Write(r, t);
    }

    private static ulong SignBit(PType t) => t == PType.F16 ? 0x8000UL : t == PType.F32 ? 0x8000_0000UL : 0x8000_0000_0000_0000UL;

    private static double Sum(double x, double y, PType t, Mode mode)
    {
        (double s, double e) = TwoSum(x, y);
        if (s == 0 && e == 0 && !double.IsNaN(s))
        {
            // An exact zero: -0 when rounding down unless both operands are +0; otherwise IEEE's sign.
            bool bothPositiveZero = x == 0 && y == 0 && !double.IsNegative(x) && !double.IsNegative(y);
            return mode == Mode.Down && !bothPositiveZero ? -0.0 : s;
        }
        return double.IsFinite(s) ? Round(s, e, t, mode) : Round(x + y, 0, t, mode);
    }

    private static double FusedMultiplyAdd(double x, double y, double z, PType t, Mode mode)
    {
        if (t == PType.F64)
            return Math.FusedMultiplyAdd(x, y, z); // only fma.rn.f64 is accepted
        double p = x * y; // exact for f32 and f16 operands
        return Sum(p, z, t, mode);
    }

    private static double MinMax(bool min, bool propagateNaN, double x, double y)
    {
        if (double.IsNaN(x) || double.IsNaN(y))
            return propagateNaN || (double.IsNaN(x) && double.IsNaN(y)) ? double.NaN : double.IsNaN(x) ? y : x;
        return min ? Math.Min(x, y) : Math.Max(x, y);
    }

    /// <summary>testp.op: the class test of the ISA, on the value's own format (f32 or f64).</summary>
    public static bool Test(string op, ulong bits, PType type)
    {
        if (type == PType.F32)
        {
            float f = BitConverter.UInt32BitsToSingle((uint)bits);
            return op switch
            {
                "finite" => float.IsFinite(f), "infinite" => float.IsInfinity(f), "number" => !float.IsNaN(f),
                "notanumber" => float.IsNaN(f), "normal" => float.IsNormal(f), _ => float.IsSubnormal(f),
            };
        }
        double x = BitConverter.UInt64BitsToDouble(bits);
        return op switch
        {
            "finite" => double.IsFinite(x), "infinite" => double.IsInfinity(x), "number" => !double.IsNaN(x),
            "notanumber" => double.IsNaN(x), "normal" => double.IsNormal(x), _ => double.IsSubnormal(x),
        };
    }
}
