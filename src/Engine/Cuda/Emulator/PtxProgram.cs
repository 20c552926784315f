namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Operations of a decoded instruction. The common ones have a type-specialised form whose lane
/// loop needs no further decisions; everything else runs through <see cref="Generic"/>, which
/// applies the scalar semantics of <see cref="PtxInterpreter"/> lane by lane.
/// </summary>
internal enum XOp : byte
{
    Generic, Mov,
    AddI32, SubI32, MulLoI32, AddI64, SubI64, MulLoI64,
    AddF32, SubF32, MulF32, DivF32, FmaF32, AddF64, SubF64, MulF64, FmaF64,
    And, Or, Xor, ShlB32, ShrU32, ShrS32, ShlB64, ShrU64, ShrS64,
    SetpInt, SetpF32, SetpF64, Selp,
    CvtS64S32, CvtU64U32, CvtU32U64, CvtF32S32,
    CvtaToGlobal, CvtaStrip, CvtaShared, CvtaLocal,
    Ld, St, Atom,
    Bra, Ret, Bar, BarRed, WarpSync, Membar, Shfl, Mma,
}

/// <summary>Comparisons of setp, with the signedness of integer comparisons resolved at decode time.</summary>
internal enum XCmp : byte
{
    Eq, Ne, LtS, LeS, GtS, GeS, LtU, LeU, GtU, GeU,
    Lt, Le, Gt, Ge, Equ, Neu, Ltu, Leu, Gtu, Geu, Nan, Num,
}

/// <summary>
/// One decoded instruction. Register operands are indices into a warp's register file already
/// multiplied by 32 (the file is laid out register-major: the 32 lanes of a register are adjacent);
/// immediates, special registers and symbol addresses are registers too (see <see cref="PtxProgram"/>).
/// </summary>
internal struct XInst
{
    public XOp Op;
    public XCmp Cmp;
    public PSpace Space;
    /// <summary>Access size in bytes of loads, stores and atomics; 32 or 64 for integer setp.</summary>
    public byte Size;
    /// <summary>Loads of .s8/.s16 sign-extend to 32 bits.</summary>
    public bool SignExtend;
    public bool GuardNegated;

    /// <summary>bar.red: the predicate operand B is negated (<c>!%p</c>).</summary>
    public bool NegateB;
    public int D, A, B, C;
    /// <summary>Guard predicate register ×32, or -1.</summary>
    public int Guard;
    /// <summary>Branch target.</summary>
    public int Target;
    /// <summary>Extra register lists (mma fragments): index of the first entry in <see cref="PtxProgram.Lists"/>.</summary>
    public int List;
}

/// <summary>
/// A kernel decoded once for execution. A warp's register file holds, register-major, the kernel's
/// <see cref="PKernel.RegisterCount"/> registers, then <see cref="SpecialCount"/> special registers
/// (in <see cref="PtxSpecials.Names"/> order, filled per block), then one constant register per
/// distinct immediate or symbol address (filled once), then one per parameter read (filled per launch:
/// ld.param becomes a move from it).
/// </summary>
internal sealed class PtxProgram
{
    public required XInst[] Code { get; init; }
    public required ulong[] Constants { get; init; }
    public required int[] Lists { get; init; }
    public int RegisterCount { get; init; }
    public int SpecialBase => RegisterCount;
    public static int SpecialCount => PtxSpecials.Names.Length;
    public int ConstantBase => RegisterCount + SpecialCount;

    /// <summary>Parameter values (offset, size, sign-extension) loaded by ld.param: one register each after the constants, filled per launch.</summary>
    public required (int Offset, int Size, bool SignExtend)[] Parameters { get; init; }

    public int ParameterBase => ConstantBase + Constants.Length;

    public int FileRegisters => ParameterBase + Parameters.Length;

    /// <summary>Registers (not ×32) that some path may read before writing: cleared at the start of every block.</summary>
    public required int[] ReadBeforeWrite { get; init; }

    /// <summary>Whether some instruction is an atomic that may touch global memory (then blocks must run in order).</summary>
    public bool HasGlobalAtomics { get; init; }
}
