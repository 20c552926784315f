namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Scalar semantics of arithmetic, comparisons and conversions on raw register bits, following the
/// PTX ISA for the types the compiler emits. The warp executor's specialised lane loops must agree
/// with these; instructions without a specialised form run through <see cref="Compute"/>.
/// </summary>
internal static class PtxArithmetic
{
    private static float F32(ulong bits) => BitConverter.UInt32BitsToSingle((uint)bits);
    private static double F64(ulong bits) => BitConverter.UInt64BitsToDouble(bits);
    private static ulong Bits(float v) => BitConverter.SingleToUInt32Bits(v);
    private static ulong Bits(double v) => BitConverter.DoubleToUInt64Bits(v);

    /// <summary>The integer value of <paramref name="bits"/> read as <paramref name="type"/> (sign- or zero-extended).</summary>
    private static long Integer(ulong bits, PType type) => type switch
    {
        PType.S8 => (sbyte)bits,
        PType.S16 => (short)bits,
        PType.S32 => (int)(uint)bits,
        PType.U8 or PType.B8 => (byte)bits,
        PType.U16 or PType.B16 => (ushort)bits,
        PType.U32 or PType.B32 => (uint)bits,
        PType.Pred => bits != 0 ? 1 : 0,
        _ => (long)bits,
    };

    private static ulong Truncate(long value, PType type) => type.Size() switch
    {
        1 when type == PType.Pred => value != 0 ? 1UL : 0UL,
        1 => (byte)value,
        2 => (ushort)value,
        4 => (uint)value,
        _ => (ulong)value,
    };

    /// <summary>The result of a non-memory, non-control instruction on operand values <paramref name="a"/>, <paramref name="b"/>, <paramref name="c"/>.</summary>
    public static ulong Compute(PInstruction ins, ulong a, ulong b, ulong c)
    {
        switch (ins.Kind)
        {
            case PKind.Mov:
                return a;
            case PKind.Selp:
                return c != 0 ? a : b;
            case PKind.Setp:
                return Compare(ins, a, b) ? 1UL : 0UL;
            case PKind.Testp:
                return PtxFloat.Test(ins.Modifier, a, ins.Type) ? 1UL : 0UL;
            case PKind.Cvt:
                return Convert(ins, a);
            case PKind.Mul or PKind.Mad when !ins.Type.IsFloat():
                return Multiply(ins, a, b, c);
            case PKind.Neg or PKind.Not or PKind.Abs when !ins.Type.IsFloat():
                return Unary(ins.Kind, ins.Type, a);
            default:
                return ins.Type.IsFloat() ? PtxFloat.Compute(ins, a, b, c) : Arithmetic(ins.Kind, ins.Type, a, b);
        }
    }

    /// <summary>mul/mad .lo, .hi and .wide on 16-, 32- and 64-bit integers (mad adds c at the result's width).</summary>
    private static ulong Multiply(PInstruction ins, ulong a, ulong b, ulong c)
    {
        PType t = ins.Type;
        int width = t.Size() * 8;
        bool signed = t.IsSigned();
        ulong product;
        int resultWidth = width;
        if (width == 64)
        {
            ulong high = signed ? (ulong)Math.BigMul((long)a, (long)b, out _) : Math.BigMul(a, b, out _);
            product = ins.Modifier == "hi" ? high : a * b;
        }
        else
        {
            long full = Integer(a, t) * Integer(b, t); // exact: at most 32 × 32 bits
            if (ins.Modifier == "wide")
            {
                resultWidth = 2 * width;
                product = (ulong)full;
            }
            else
            {
                product = ins.Modifier == "hi" ? (ulong)(full >> width) : (ulong)full;
            }
        }
        if (ins.Kind == PKind.Mad)
            product += c;
        return resultWidth == 64 ? product : product & ((1UL << resultWidth) - 1);
    }

    private static ulong Unary(PKind kind, PType type, ulong a)
    {
        if (type == PType.Pred)
            return kind == PKind.Not ? a ^ 1 : throw new PtxEmulatorException($"{kind} is not defined for pred");
        long v = Integer(a, type);
        return Truncate(kind switch { PKind.Neg => -v, PKind.Not => ~v, PKind.Abs => v < 0 ? -v : v, _ => throw new PtxEmulatorException($"{kind} is not defined for integers") }, type);
    }

    /// <summary>Integer and predicate arithmetic; float types (atomics) round to nearest.</summary>
    public static ulong Arithmetic(PKind kind, PType type, ulong a, ulong b)
    {
        if (type.IsFloat())
            return PtxFloat.Compute(new PInstruction { Kind = kind, Text = "", Type = type }, a, b, 0);
        if (type == PType.Pred)
            return kind switch { PKind.And => a & b, PKind.Or => a | b, PKind.Xor => a ^ b, _ => throw new PtxEmulatorException($"{kind} is not defined for pred") };
        int width = type.Size() * 8;
        bool signed = type.IsSigned();
        long x0 = Integer(a, type), y0 = Integer(b, type);
        ulong ux = Truncate(x0, type), uy = Truncate(y0, type);
        int shift = (int)Math.Min((uint)b, (uint)width);
        if ((kind is PKind.Div or PKind.Rem) && uy == 0)
            throw new PtxEmulatorException("integer division by zero (undefined on the GPU)");
        long result = kind switch
        {
            PKind.Add => x0 + y0,
            PKind.Sub => x0 - y0,
            PKind.Mul => x0 * y0,
            // MinValue / -1 wraps (C# would throw); the remainder is then 0.
            PKind.Div => signed ? (y0 == -1 ? unchecked(-x0) : x0 / y0) : (long)(ux / uy),
            PKind.Rem => signed ? (y0 == -1 ? 0 : x0 % y0) : (long)(ux % uy),
            PKind.And => x0 & y0,
            PKind.Or => x0 | y0,
            PKind.Xor => x0 ^ y0,
            PKind.Shl => shift >= width ? 0 : (long)(ux << shift),
            PKind.Shr => signed ? x0 >> Math.Min(shift, width - 1) : shift >= width ? 0 : (long)(ux >> shift),
            PKind.Min => signed ? Math.Min(x0, y0) : (long)Math.Min(ux, uy),
            PKind.Max => signed ? Math.Max(x0, y0) : (long)Math.Max(ux, uy),
            _ => throw new PtxEmulatorException($"{kind} is not defined for integers"),
        };
        return Truncate(result, type);
    }

    private static bool Compare(PInstruction ins, ulong a, ulong b)
    {
        string op = ins.Modifier;
        PType type = ins.Type;
        if (type.IsFloat())
        {
            double x = PtxFloat.Read(a, type), y = PtxFloat.Read(b, type);
            if (ins.Ftz)
                (x, y) = (PtxFloat.Flush(x, type), PtxFloat.Flush(y, type));
            bool nan = double.IsNaN(x) || double.IsNaN(y);
            bool unordered = op.Length == 3 && op[2] == 'u';
            if (op is "nan" or "num")
                return nan == (op == "nan");
            if (nan)
                return unordered;
            return op[..2] switch { "eq" => x == y, "ne" => x != y, "lt" => x < y, "le" => x <= y, "gt" => x > y, "ge" => x >= y, _ => throw new PtxEmulatorException($"setp.{op} is not emulated") };
        }
        long sx = Integer(a, type), sy = Integer(b, type);
        ulong ux = Truncate(sx, type), uy = Truncate(sy, type);
        return op switch
        {
            "eq" => sx == sy, "ne" => sx != sy,
            "lt" => type.IsSigned() ? sx < sy : ux < uy, "le" => type.IsSigned() ? sx <= sy : ux <= uy,
            "gt" => type.IsSigned() ? sx > sy : ux > uy, "ge" => type.IsSigned() ? sx >= sy : ux >= uy,
            "lo" => ux < uy, "ls" => ux <= uy, "hi" => ux > uy, "hs" => ux >= uy,
            _ => throw new PtxEmulatorException($"setp.{op} is not emulated"),
        };
    }

    /// <summary>
    /// cvt: float → integer rounds as the modifier says and saturates (NaN → 0); integer → integer
    /// truncates or, with .sat, clamps; .s8/.s16 results are sign-extended to 32 bits (the register
    /// rule for destinations wider than the type); float → float rounds once; .ftz and .sat as in
    /// <see cref="PtxFloat"/>.
    /// </summary>
    private static ulong Convert(PInstruction ins, ulong a)
    {
        PType to = ins.Type, from = ins.SourceType;
        if (from.IsFloat())
        {
            double x = PtxFloat.Read(a, from);
            if (ins.Ftz && from == PType.F32)
                x = PtxFloat.Flush(x, from);
            x = ins.Rounding switch
            {
                "rmi" => Math.Floor(x), "rpi" => Math.Ceiling(x), "rni" => Math.Round(x, MidpointRounding.ToEven), "rzi" => Math.Truncate(x), _ => x,
            };
            if (to.IsFloat())
                return FloatResult(ins, PtxFloat.Round(x, 0, to, PtxFloat.Mode.Nearest));
            // float → integer saturates; NaN becomes 0.
            if (double.IsNaN(x))
                return 0;
            int width = to.Size() * 8;
            double lo = to.IsSigned() ? -Math.Pow(2, width - 1) : 0, hi = to.IsSigned() ? Math.Pow(2, width - 1) - 1 : Math.Pow(2, width) - 1;
            x = Math.Clamp(x, lo, hi);
            return IntegerResult(to.IsSigned() || width < 64 ? (long)x : (long)(ulong)x, to);
        }
        long v = Integer(a, from);
        bool unsigned64 = from == PType.U64 && v < 0;
        if (to.IsFloat())
        {
            double value = to switch
            {
                PType.F32 => unsigned64 ? (float)(ulong)v : (float)v,
                _ => unsigned64 ? (double)(ulong)v : v,
            };
            // f16: a 64-bit source beyond 2^53 is far past f16's range (65504), so its double is enough.
            return FloatResult(ins, to == PType.F16 ? PtxFloat.Round(value, 0, PType.F16, PtxFloat.Mode.Nearest) : value);
        }
        if (ins.Sat)
        {
            int width = to.Size() * 8;
            if (unsigned64)
                return to == PType.U64 ? (ulong)v : IntegerResult(to.IsSigned() ? (width == 64 ? long.MaxValue : (1L << (width - 1)) - 1) : (1L << width) - 1, to);
            long lo = to.IsSigned() ? (width == 64 ? long.MinValue : -(1L << (width - 1))) : 0;
            long hi = to.IsSigned() ? (width == 64 ? long.MaxValue : (1L << (width - 1)) - 1) : width == 64 ? long.MaxValue : (1L << width) - 1;
            if (to == PType.U64)
                return v < 0 ? 0 : (ulong)v;
            return IntegerResult(Math.Clamp(v, lo, hi), to);
        }
        return IntegerResult(v, to);
    }

    private static ulong IntegerResult(long value, PType to)
        => to is PType.S8 or PType.S16 ? (uint)(int)(to == PType.S8 ? (sbyte)value : (short)value) : Truncate(value, to);

    private static ulong FloatResult(PInstruction ins, double value)
    {
        if (ins.Ftz && ins.Type == PType.F32)
            value = PtxFloat.Flush(value, PType.F32);
        if (ins.Sat)
            value = double.IsNaN(value) ? 0 : Math.Clamp(value, 0, 1);
        return PtxFloat.Write(value, ins.Type);
    }
}
