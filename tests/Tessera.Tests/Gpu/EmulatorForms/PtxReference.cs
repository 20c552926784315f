using System.Numerics;

namespace Tessera.Tests.Gpu.EmulatorForms;

/// <summary>
/// An independent reference for PTX float arithmetic: values as exact binary rationals
/// (BigInteger · 2^exponent), sums and products computed exactly, then rounded once to f16/f32
/// with a rounding mode. Slow and simple on purpose: it shares no code with the emulator's
/// double-pair arithmetic.
/// </summary>
internal static class PtxReference
{
    public enum Mode { Nearest, Zero, Down, Up }

    public readonly record struct Exact(BigInteger Mantissa, int Exponent)
    {
        public static Exact Of(double v)
        {
            if (v == 0)
                return new Exact(0, 0);
            long bits = BitConverter.DoubleToInt64Bits(v);
            int e = (int)((bits >> 52) & 0x7FF);
            long m = bits & ((1L << 52) - 1);
            if (e == 0)
                e = 1;
            else
                m |= 1L << 52;
            BigInteger mantissa = v < 0 ? -(BigInteger)m : m;
            return new Exact(mantissa, e - 1075);
        }

        public static Exact operator +(Exact a, Exact b)
        {
            int e = Math.Min(a.Exponent, b.Exponent);
            return new Exact((a.Mantissa << (a.Exponent - e)) + (b.Mantissa << (b.Exponent - e)), e);
        }

        public static Exact operator *(Exact a, Exact b) => new(a.Mantissa * b.Mantissa, a.Exponent + b.Exponent);
    }

    /// <summary>Rounds a nonzero exact value to a binary format with <paramref name="precision"/> bits and minimum exponent <paramref name="minExponent"/>.</summary>
    public static double Round(Exact v, int precision, int minExponent, double maxFinite, Mode mode)
    {
        if (v.Mantissa.IsZero)
            return 0;
        bool negative = v.Mantissa.Sign < 0;
        BigInteger m = BigInteger.Abs(v.Mantissa);
        if (negative)
            mode = mode == Mode.Down ? Mode.Up : mode == Mode.Up ? Mode.Down : mode;
        int top = (int)(m.GetBitLength() - 1) + v.Exponent;
        int quantum = Math.Max(top, minExponent) - (precision - 1);
        int shift = quantum - v.Exponent;
        BigInteger n;
        if (shift <= 0)
        {
            n = m << -shift;
        }
        else
        {
            n = m >> shift;
            BigInteger rest = m - (n << shift), half = BigInteger.One << (shift - 1);
            bool up = mode switch
            {
                Mode.Nearest => rest > half || (rest == half && !n.IsEven),
                Mode.Up => !rest.IsZero,
                _ => false,
            };
            if (up)
                n += 1;
        }
        double result = (double)n * Math.Pow(2, quantum);
        if (result > maxFinite)
            result = mode is Mode.Nearest or Mode.Up ? double.PositiveInfinity : maxFinite;
        return negative ? -result : result;
    }

    public static double RoundTo(Exact v, bool half, Mode mode)
        => half ? Round(v, 11, -14, 65504, mode) : Round(v, 24, -126, float.MaxValue, mode);
}
