using System.Numerics;
using R = Tessera.Tests.Gpu.EmulatorForms.PtxReference;

namespace Tessera.Tests.Gpu.EmulatorForms;

/// <summary>
/// The C# reference of each register-to-register instruction form (arithmetic, compare, select,
/// convert), written from the PTX ISA independently of the emulator: integers through BigInteger,
/// f16/f32 through exact rationals (<see cref="PtxReference"/>), f64 and correctly rounded f32
/// division/square root through .NET's IEEE operations. Approximate instructions give a
/// tolerance in ulps (the hardware's documented bound) instead of exact bits.
/// </summary>
internal static class FormReferences
{
    /// <summary>The parsed parts of a form: opcode, modifiers, destination and source types.</summary>
    public sealed record Form(string Text, string Op, string[] Mods, string Dest, string Source)
    {
        public bool Has(string m) => Mods.Contains(m);

        public static Form Parse(string text)
        {
            string[] t = text.Split('.');
            string[] types = t.Skip(1).Where(IsType).ToArray();
            return new Form(text, t[0], t.Skip(1).Where(x => !IsType(x)).ToArray(), types.Length > 0 ? types[0] : "", types.Length > 1 ? types[1] : types.Length > 0 ? types[0] : "");
        }

        private static bool IsType(string s) => s is "pred" or "b8" or "u8" or "s8" or "b16" or "u16" or "s16" or "f16" or "b32" or "u32" or "s32" or "f32" or "b64" or "u64" or "s64" or "f64";
    }

    public static int Width(string type) => type == "pred" ? 1 : int.Parse(type[1..], System.Globalization.CultureInfo.InvariantCulture);

    public static bool IsFloat(string type) => type[0] == 'f';

    public static BigInteger Value(ulong bits, string type)
    {
        int w = Width(type);
        ulong masked = w == 64 ? bits : bits & ((1UL << w) - 1);
        BigInteger v = masked;
        if (type[0] == 's' && w < 65 && (masked >> (w - 1) & 1) == 1)
            v -= BigInteger.One << w;
        return v;
    }

    public static ulong Bits(BigInteger v, int width)
    {
        BigInteger mod = BigInteger.One << width;
        BigInteger r = ((v % mod) + mod) % mod;
        return (ulong)r;
    }

    public static double Float(ulong bits, string type) => type switch
    {
        "f16" => (double)BitConverter.UInt16BitsToHalf((ushort)bits),
        "f32" => BitConverter.UInt32BitsToSingle((uint)bits),
        _ => BitConverter.UInt64BitsToDouble(bits),
    };

    public static ulong FloatBits(double v, string type) => type switch
    {
        "f16" => BitConverter.HalfToUInt16Bits((Half)v),
        "f32" => BitConverter.SingleToUInt32Bits((float)v),
        _ => BitConverter.DoubleToUInt64Bits(v),
    };

    private static double Flush(double v, string type)
    {
        double smallest = type == "f16" ? Math.Pow(2, -14) : type == "f32" ? Math.Pow(2, -126) : 0;
        return v != 0 && Math.Abs(v) < smallest ? Math.CopySign(0.0, v) : v;
    }

    private static R.Mode Mode(Form f) => f.Has("rz") ? R.Mode.Zero : f.Has("rm") ? R.Mode.Down : f.Has("rp") ? R.Mode.Up : R.Mode.Nearest;

    /// <summary>Expected bits and the tolerance in ulps (0: bit-exact; NaN matches any NaN), or null where the ISA leaves the result undefined.</summary>
    public static (ulong Bits, double Ulps)? Expected(Form f, ulong a, ulong b, ulong c)
    {
        if (f.Op is "setp" or "testp")
            return (Predicate(f, a, b) ? 1UL : 0UL, 0);
        if (f.Op == "selp")
            return (c != 0 ? a : b, 0);
        if (f.Op == "mov")
            return (a, 0);
        if (f.Op == "cvt")
            return Convert(f, a);
        if (f.Dest == "pred")
            return (f.Op switch { "and" => a & b, "or" => a | b, "xor" => a ^ b, _ => a ^ 1 }, 0);
        if (IsFloat(f.Dest))
            return FloatOp(f, a, b, c);
        return IntegerOp(f, a, b, c);
    }

    private static (ulong, double)? IntegerOp(Form f, ulong a, ulong b, ulong c)
    {
        int w = Width(f.Dest);
        BigInteger x = Value(a, f.Dest), y = Value(b, f.Dest);
        bool signed = f.Dest[0] == 's';
        BigInteger ux = Value(a, "u" + w), uy = Value(b, "u" + w);
        int shift = (int)Math.Min((uint)b, (uint)w);
        BigInteger r;
        switch (f.Op)
        {
            case "add": r = x + y; break;
            case "sub": r = x - y; break;
            case "mul" or "mad":
                BigInteger p = x * y;
                int resultWidth = f.Has("wide") ? 2 * w : w;
                r = f.Has("hi") ? p >> w : p;
                if (f.Op == "mad")
                    r += Value(c, "u" + resultWidth);
                return (Bits(r, resultWidth), 0);
            case "div" or "rem":
                if (y.IsZero)
                    return null;
                BigInteger q = BigInteger.Divide(x, y); // truncates toward zero, as PTX
                r = f.Op == "div" ? q : x - q * y;
                break;
            case "min": r = BigInteger.Min(x, y); break;
            case "max": r = BigInteger.Max(x, y); break;
            case "and": r = ux & uy; break;
            case "or": r = ux | uy; break;
            case "xor": r = ux ^ uy; break;
            case "not": r = ~ux; break;
            case "shl": r = shift >= w ? 0 : ux << shift; break;
            case "shr": r = signed ? x >> Math.Min(shift, w - 1) : shift >= w ? 0 : ux >> shift; break;
            case "neg": r = -x; break;
            case "abs": r = BigInteger.Abs(x); break;
            default: throw new InvalidOperationException($"no integer reference for {f.Text}");
        }
        return (Bits(r, w), 0);
    }

    private static (ulong, double)? FloatOp(Form f, ulong a, ulong b, ulong c)
    {
        string t = f.Dest;
        ulong sign = 1UL << (Width(t) - 1);
        if (f.Op == "neg" && !f.Has("ftz"))
            return (a ^ sign, 0);
        if (f.Op == "abs" && !f.Has("ftz"))
            return (a & ~sign, 0);
        if (f.Op == "copysign")
            return ((b & ~sign) | (a & sign), 0);
        double x = Float(a, t), y = Float(b, t), z = Float(c, t);
        bool ftz = f.Has("ftz");
        if (ftz)
            (x, y, z) = (Flush(x, t), Flush(y, t), Flush(z, t));
        R.Mode mode = Mode(f);
        double ulps = 0;
        double v;
        switch (f.Op)
        {
            case "add": v = Add(x, y, t, mode); break;
            case "sub": v = Add(x, -y, t, mode); break;
            case "mul": v = t == "f64" ? x * y : Exactly(x, y, 0, t, mode, product: true); break;
            case "fma": v = t == "f64" ? Math.FusedMultiplyAdd(x, y, z) : Exactly(x, y, z, t, mode, product: false); break;
            case "div":
                v = t == "f64" ? x / y : (float)x / (float)y;
                ulps = f.Has("approx") || f.Has("full") ? 2 : 0;
                break;
            case "sqrt":
                v = t == "f64" ? Math.Sqrt(x) : MathF.Sqrt((float)x);
                ulps = f.Has("approx") ? 1 : 0;
                break;
            case "rcp":
                v = t == "f64" ? 1 / x : 1f / (float)x;
                ulps = f.Has("approx") ? 1 : 0;
                break;
            case "rsqrt": v = 1 / Math.Sqrt(x); ulps = 2; break;
            case "ex2": v = Math.Pow(2, x); ulps = 2; break;
            case "lg2": v = Math.Log2(x); ulps = 2; break;
            case "sin": v = Math.Sin(x); ulps = 2; break;
            case "cos": v = Math.Cos(x); ulps = 2; break;
            case "tanh": v = Math.Tanh(x); ulps = 2; break;
            case "min" or "max":
                bool min = f.Op == "min";
                v = double.IsNaN(x) && double.IsNaN(y) ? double.NaN
                    : double.IsNaN(x) || double.IsNaN(y) ? (f.Has("NaN") ? double.NaN : double.IsNaN(x) ? y : x)
                    : min ? Math.Min(x, y) : Math.Max(x, y);
                break;
            case "neg": v = -x; break;
            case "abs": v = Math.Abs(x); break;
            default: throw new InvalidOperationException($"no float reference for {f.Text}");
        }
        if (ftz)
            v = Flush(v, t);
        if (f.Has("sat"))
            v = double.IsNaN(v) ? 0 : Math.Clamp(v, 0, 1);
        return (FloatBits(v, t), ulps);
    }

    private static double Add(double x, double y, string t, R.Mode mode)
    {
        if (double.IsNaN(x) || double.IsNaN(y) || double.IsInfinity(x) || double.IsInfinity(y))
            return x + y;
        if (t == "f64")
            return x + y;
        R.Exact sum = R.Exact.Of(x) + R.Exact.Of(y);
        if (sum.Mantissa.IsZero)
        {
            bool bothPlusZero = x == 0 && y == 0 && !double.IsNegative(x) && !double.IsNegative(y);
            bool bothMinusZero = x == 0 && y == 0 && double.IsNegative(x) && double.IsNegative(y);
            return bothMinusZero || (mode == R.Mode.Down && !bothPlusZero) ? -0.0 : 0.0;
        }
        return R.RoundTo(sum, t == "f16", mode);
    }

    private static double Exactly(double x, double y, double z, string t, R.Mode mode, bool product)
    {
        double p = x * y; // exact for f16/f32 operands
        if (!double.IsFinite(p) || !double.IsFinite(z))
            return product ? p : p + z;
        if (product)
            return p == 0 ? p : R.RoundTo(R.Exact.Of(x) * R.Exact.Of(y), t == "f16", mode);
        return Add(p, z, t, mode);
    }

    private static bool Predicate(Form f, ulong a, ulong b)
    {
        string t = f.Dest;
        if (f.Op == "testp")
        {
            string op = f.Mods[0];
            if (t == "f32")
            {
                float v = BitConverter.UInt32BitsToSingle((uint)a);
                return op switch { "finite" => float.IsFinite(v), "infinite" => float.IsInfinity(v), "number" => !float.IsNaN(v), "notanumber" => float.IsNaN(v), "normal" => float.IsNormal(v), _ => float.IsSubnormal(v) };
            }
            double d = BitConverter.UInt64BitsToDouble(a);
            return op switch { "finite" => double.IsFinite(d), "infinite" => double.IsInfinity(d), "number" => !double.IsNaN(d), "notanumber" => double.IsNaN(d), "normal" => double.IsNormal(d), _ => double.IsSubnormal(d) };
        }
        string cmp = f.Mods[0];
        if (IsFloat(t))
        {
            double x = Float(a, t), y = Float(b, t);
            if (f.Has("ftz"))
                (x, y) = (Flush(x, t), Flush(y, t));
            bool nan = double.IsNaN(x) || double.IsNaN(y);
            if (cmp is "nan" or "num")
                return nan == (cmp == "nan");
            if (nan)
                return cmp.EndsWith('u');
            return cmp[..2] switch { "eq" => x == y, "ne" => x != y, "lt" => x < y, "le" => x <= y, "gt" => x > y, _ => x >= y };
        }
        bool unsigned = cmp is "lo" or "ls" or "hi" or "hs" || t[0] != 's';
        BigInteger p = Value(a, unsigned ? "u" + Width(t) : t), q = Value(b, unsigned ? "u" + Width(t) : t);
        return cmp switch
        {
            "eq" => p == q, "ne" => p != q, "lt" or "lo" => p < q, "le" or "ls" => p <= q, "gt" or "hi" => p > q, _ => p >= q,
        };
    }

    private static (ulong, double)? Convert(Form f, ulong a)
    {
        string to = f.Dest, from = f.Source;
        if (IsFloat(from))
        {
            double x = Float(a, from);
            if (f.Has("ftz") && from == "f32")
                x = Flush(x, from);
            x = f.Has("rni") ? Math.Round(x, MidpointRounding.ToEven) : f.Has("rzi") ? Math.Truncate(x) : f.Has("rmi") ? Math.Floor(x) : f.Has("rpi") ? Math.Ceiling(x) : x;
            if (!IsFloat(to))
            {
                if (double.IsNaN(x))
                    return (0, 0);
                int w = Width(to);
                BigInteger lo = to[0] == 's' ? -(BigInteger.One << (w - 1)) : 0, hi = to[0] == 's' ? (BigInteger.One << (w - 1)) - 1 : (BigInteger.One << w) - 1;
                BigInteger v = double.IsInfinity(x) ? (x > 0 ? hi : lo) : new BigInteger(x);
                return (Bits(BigInteger.Min(BigInteger.Max(v, lo), hi), w), 0);
            }
            double r = to == "f64" || double.IsNaN(x) || double.IsInfinity(x) || x == 0 ? x : R.RoundTo(R.Exact.Of(x), to == "f16", R.Mode.Nearest);
            return (FloatBits(FinishFloat(f, r), to), 0);
        }
        BigInteger value = Value(a, from);
        if (IsFloat(to))
        {
            // BigInteger → double truncates, so f64 goes through the exact rounding too.
            double r = to == "f64" ? (value.IsZero ? 0 : R.Round(new R.Exact(value, 0), 53, -1022, double.MaxValue, R.Mode.Nearest)) : value.IsZero ? 0 : R.RoundTo(new R.Exact(value, 0), to == "f16", R.Mode.Nearest);
            return (FloatBits(FinishFloat(f, r), to), 0);
        }
        int width = Width(to);
        if (f.Has("sat"))
        {
            BigInteger lo = to[0] == 's' ? -(BigInteger.One << (width - 1)) : 0, hi = to[0] == 's' ? (BigInteger.One << (width - 1)) - 1 : (BigInteger.One << width) - 1;
            value = BigInteger.Min(BigInteger.Max(value, lo), hi);
        }
        return (Bits(value, width), 0);
    }

    private static double FinishFloat(Form f, double v)
    {
        if (f.Has("ftz") && f.Dest == "f32")
            v = Flush(v, "f32");
        if (f.Has("sat"))
            v = double.IsNaN(v) ? 0 : Math.Clamp(v, 0, 1);
        return v;
    }
}
