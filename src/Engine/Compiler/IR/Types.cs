namespace Tessera.Engine.Compiler.IR;

/// <summary>Register types of the IR. Values narrower than 32 bits exist only in memory (see <see cref="MemType"/>).</summary>
internal enum IrType
{
    Pred,
    I32,
    I64,
    F32,
    F64,
    Ptr,
}

/// <summary>Element types of loads, stores and atomics.</summary>
internal enum MemType
{
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
    U64,
    S64,
    F32,
    F64,
}

internal enum AddressSpace
{
    None,
    Global,
    Shared,
    Local,
}

internal enum Op
{
    Add, Sub, Mul, Div, Rem, And, Or, Xor, Shl, Shr, Neg, Not,
    Min, Max, Abs, Fma, Sqrt, Rsqrt, Ex2, Lg2, Sin, Cos, Floor, Ceil, Round, Trunc,
    Cmp, Select, Convert, BitCast, PtrAdd, HalfToFloat, FloatToHalf, ToGeneric,
    Load, Store, Special, SharedBase, DynamicSharedBase, LocalBase,
    Barrier, Fence, Shuffle, Atomic,
    /// <summary>mma.sync m16n8k16 (Symbol 1: bf16 inputs): args A0..3, B0..1, C0..3; the result is D0.</summary>
    Mma,
    /// <summary>D1..D3 of the Mma in Args[0] (Symbol: 1..3).</summary>
    MmaPart,
}

internal enum CmpKind { Eq, Ne, Lt, Le, Gt, Ge }

internal enum SpecialReg { TidX, TidY, TidZ, NtidX, NtidY, NtidZ, CtaidX, CtaidY, CtaidZ, NctaidX, NctaidY, NctaidZ, LaneId, DynamicSharedSize }

internal enum ShuffleMode { Xor, Down, Up, Index }

internal enum AtomicOp { Add, Min, Max, Exchange, CompareExchange }

internal enum FenceScope { Block, Device, System }

internal static class IrTypes
{
    public static bool IsFloat(this IrType t) => t is IrType.F32 or IrType.F64;

    public static bool Is64(this IrType t) => t is IrType.I64 or IrType.F64 or IrType.Ptr;

    public static int Size(this MemType m) => m switch
    {
        MemType.U8 or MemType.S8 => 1,
        MemType.U16 or MemType.S16 => 2,
        MemType.U32 or MemType.S32 or MemType.F32 => 4,
        _ => 8,
    };

    /// <summary>The register type a load of <paramref name="m"/> produces.</summary>
    public static IrType RegisterType(this MemType m) => m switch
    {
        MemType.F32 => IrType.F32,
        MemType.F64 => IrType.F64,
        MemType.U64 or MemType.S64 => IrType.I64,
        _ => IrType.I32,
    };
}
