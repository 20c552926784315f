namespace Tessera.Engine.Cuda.Emulator;

/// <summary>Operation kinds of the PTX subset the emulator executes.</summary>
internal enum PKind
{
    Add, Sub, Mul, Div, Rem, And, Or, Xor, Shl, Shr, Neg, Not, Min, Max, Abs, Fma,
    Sqrt, Rsqrt, Ex2, Lg2, Sin, Cos, Setp, Selp, Cvt, Cvta, Mov, Ld, St, Bra, Ret, Bar, Membar, Shfl, Atom, Mma,
    Mad, Rcp, Tanh, Testp, Copysign,
}

/// <summary>Element types of PTX instructions.</summary>
internal enum PType { Pred, B8, U8, S8, B16, U16, S16, F16, B32, U32, S32, B64, U64, S64, F32, F64 }

internal enum PSpace { None, Global, Shared, Local, Param }

internal enum OperandKind { None, Register, Immediate, Symbol, Special }

/// <summary>
/// A register, an immediate (raw bits), a special register (index into <see cref="PtxSpecials.Names"/>
/// in <c>Register</c>) or a symbol (shared/local variable, parameter).
/// </summary>
/// <remarks>For a symbol, <c>Bits</c> is the byte offset of <c>[name+offset]</c>; for a register, 1 marks a negated predicate (<c>!%p</c>, bar.red only).</remarks>
internal readonly record struct POperand(OperandKind Kind, int Register, ulong Bits, string? Symbol)
{
    public static readonly POperand None = new(OperandKind.None, -1, 0, null);
}

/// <summary>One decoded instruction. Modifier strings keep the rarely varying parts (cmp op, rounding, shuffle mode).</summary>
internal sealed class PInstruction
{
    public required PKind Kind { get; init; }
    public required string Text { get; init; }
    public PType Type { get; init; }
    public PType SourceType { get; init; }
    /// <summary>Settable: ld/st.param on a call-scope argument become local-memory accesses.</summary>
    public PSpace Space { get; set; }
    public string Modifier { get; init; } = "";

    /// <summary>Rounding modifier (rn, rz, rm, rp, rni, rzi, rmi, rpi, approx, full) or "".</summary>
    public string Rounding { get; init; } = "";

    /// <summary>.ftz: subnormal f32/f16 inputs and results become zeros of the same sign.</summary>
    public bool Ftz { get; init; }

    /// <summary>.sat: float results clamp to [0, 1] (NaN to 0); integer conversions clamp to the destination's range.</summary>
    public bool Sat { get; init; }
    public POperand Dest { get; init; } = POperand.None;
    public POperand[] Sources { get; init; } = [];

    /// <summary>mma.sync: the registers of the D, A, B and C fragments, in that order (4, 4, 2, 4).</summary>
    public POperand[] Fragments { get; init; } = [];
    public int Guard { get; init; } = -1;
    public bool GuardNegated { get; init; }
    public int Target { get; set; } = -1;
    public string? TargetLabel { get; init; }

    /// <summary>For Special symbol moves and symbol addresses: resolved at load.</summary>
    public int SymbolIndex { get; set; } = -1;
}

internal sealed record PParam(string Name, PType Type, int Offset, int Size);

internal sealed record PVariable(string Name, PSpace Space, int Bytes, int Alignment, int Offset);

/// <summary>A parsed .entry: parameters, variables, registers and code.</summary>
internal sealed class PKernel
{
    public required string Name { get; init; }
    public List<PParam> Params { get; } = [];
    public List<PVariable> Variables { get; } = [];
    public bool HasDynamicShared { get; set; }
    public int StaticSharedBytes { get; set; }
    public int LocalBytes { get; set; }
    public int RegisterCount { get; set; }
    public List<PInstruction> Code { get; } = [];

    /// <summary>The decoded form the emulator executes, built at the first launch.</summary>
    public PtxProgram? Program { get; set; }
    public int ParamBytes => Params.Count == 0 ? 0 : Params[^1].Offset + Params[^1].Size;
}

internal static class PTypes
{
    public static int Size(this PType t) => t switch
    {
        PType.Pred => 1,
        PType.B8 or PType.U8 or PType.S8 => 1,
        PType.B16 or PType.U16 or PType.S16 or PType.F16 => 2,
        PType.B32 or PType.U32 or PType.S32 or PType.F32 => 4,
        _ => 8,
    };

    public static bool IsSigned(this PType t) => t is PType.S8 or PType.S16 or PType.S32 or PType.S64;

    public static bool IsFloat(this PType t) => t is PType.F16 or PType.F32 or PType.F64;
}

internal static class PtxSpecials
{
    public static readonly string[] Names =
    [
        "%tid.x", "%tid.y", "%tid.z", "%ntid.x", "%ntid.y", "%ntid.z",
        "%ctaid.x", "%ctaid.y", "%ctaid.z", "%nctaid.x", "%nctaid.y", "%nctaid.z",
        "%laneid", "%dynamic_smem_size",
    ];
}

