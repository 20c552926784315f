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
                return Compare(ins.Modifier, ins.Type, a, b) ? 1UL : 0UL;
            case PKind.Cvt:
                return Convert(ins, a);
            case PKind.Fma:
                return ins.Type == PType.F32
                    ? Bits(MathF.FusedMultiplyAdd(F32(a), F32(b), F32(c)))
                    : Bits(Math.FusedMultiplyAdd(F64(a), F64(b), F64(c)));
            case PKind.Neg or PKind.Not or PKind.Abs or PKind.Sqrt or PKind.Rsqrt or PKind.Ex2 or PKind.Lg2 or PKind.Sin or PKind.Cos:
                return Unary(ins.Kind, ins.Type, a);
            default:
                return Arithmetic(ins.Kind, ins.Type, a, b, ins.Modifier == "NaN");
        }
    }

    private static ulong Unary(PKind kind, PType type, ulong a)
    {
        if (type == PType.F32)
        {
            float x = F32(a);
            return Bits(kind switch
            {
                PKind.Neg => -x,
                PKind.Abs => MathF.Abs(x),
                PKind.Sqrt => MathF.Sqrt(x),
                PKind.Rsqrt => (float)(1 / Math.Sqrt(x)),
                PKind.Ex2 => (float)Math.Pow(2, x),
                PKind.Lg2 => (float)Math.Log2(x),
                PKind.Sin => (float)Math.Sin(x),
                PKind.Cos => (float)Math.Cos(x),
                _ => throw new PtxEmulatorException($"{kind} is not defined for f32"),
            });
        }
        if (type == PType.F64)
        {
            double x = F64(a);
            return Bits(kind switch { PKind.Neg => -x, PKind.Abs => Math.Abs(x), PKind.Sqrt => Math.Sqrt(x), _ => throw new PtxEmulatorException($"{kind} is not defined for f64") });
        }
        if (type == PType.Pred)
            return kind == PKind.Not ? a ^ 1 : throw new PtxEmulatorException($"{kind} is not defined for pred");
        long v = Integer(a, type);
        return Truncate(kind switch { PKind.Neg => -v, PKind.Not => ~v, PKind.Abs => Math.Abs(v), _ => throw new PtxEmulatorException($"{kind} is not defined for integers") }, type);
    }

    public static ulong Arithmetic(PKind kind, PType type, ulong a, ulong b, bool propagateNaN = false)
    {
        if (type == PType.F32)
        {
            float x = F32(a), y = F32(b);
            return Bits(kind switch
            {
                PKind.Add => x + y, PKind.Sub => x - y, PKind.Mul => x * y, PKind.Div => x / y,
                PKind.Min when propagateNaN => MathF.Min(x, y),
                PKind.Max when propagateNaN => MathF.Max(x, y),
                PKind.Min => float.IsNaN(x) ? y : float.IsNaN(y) ? x : MathF.Min(x, y),
                PKind.Max => float.IsNaN(x) ? y : float.IsNaN(y) ? x : MathF.Max(x, y),
                _ => throw new PtxEmulatorException($"{kind} is not defined for f32"),
            });
        }
        if (type == PType.F64)
        {
            double x = F64(a), y = F64(b);
            return Bits(kind switch
            {
                PKind.Add => x + y, PKind.Sub => x - y, PKind.Mul => x * y, PKind.Div => x / y,
                PKind.Min => double.IsNaN(x) ? y : double.IsNaN(y) ? x : Math.Min(x, y),
                PKind.Max => double.IsNaN(x) ? y : double.IsNaN(y) ? x : Math.Max(x, y),
                _ => throw new PtxEmulatorException($"{kind} is not defined for f64"),
            });
        }
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
            PKind.Div => signed ? x0 / y0 : (long)(ux / uy),
            PKind.Rem => signed ? x0 % y0 : (long)(ux % uy),
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

    private static bool Compare(string op, PType type, ulong a, ulong b)
    {
        if (type.IsFloat())
        {
            double x = type == PType.F32 ? F32(a) : F64(a), y = type == PType.F32 ? F32(b) : F64(b);
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

    private static ulong Convert(PInstruction ins, ulong a)
    {
        PType to = ins.Type, from = ins.SourceType;
        if (from.IsFloat())
        {
            double x = from switch { PType.F16 => (float)BitConverter.UInt16BitsToHalf((ushort)a), PType.F32 => F32(a), _ => F64(a) };
            x = ins.Modifier switch
            {
                "rmi" => Math.Floor(x), "rpi" => Math.Ceiling(x), "rni" => Math.Round(x, MidpointRounding.ToEven), "rzi" => Math.Truncate(x), _ => x,
            };
            if (to == PType.F16)
                return BitConverter.HalfToUInt16Bits((Half)x);
            if (to == PType.F32)
                return Bits((float)x);
            if (to == PType.F64)
                return Bits(x);
            // float → integer saturates; NaN becomes 0.
            if (double.IsNaN(x))
                return 0;
            int width = to.Size() * 8;
            double lo = to.IsSigned() ? -Math.Pow(2, width - 1) : 0, hi = to.IsSigned() ? Math.Pow(2, width - 1) - 1 : Math.Pow(2, width) - 1;
            x = Math.Clamp(x, lo, hi);
            return to.IsSigned() || width < 64 ? Truncate((long)x, to) : (ulong)x;
        }
        long v = Integer(a, from);
        if (to == PType.F32)
            return Bits(from == PType.U64 ? (float)(ulong)v : (float)v);
        if (to == PType.F64)
            return Bits(from == PType.U64 ? (double)(ulong)v : v);
        return Truncate(v, to);
    }
}
