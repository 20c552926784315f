using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>A per-lane operation on raw register bits; structs implementing it are specialised and inlined by the JIT.</summary>
internal interface ILaneOp
{
    static abstract ulong Apply(ulong a, ulong b, ulong c);
}

/// <summary>An operation that also has a form on 8 lanes at once, equal to the scalar one lane by lane.</summary>
internal interface IVectorLaneOp : ILaneOp
{
    static abstract Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c);
}

/// <summary>
/// Lane loops over a warp register file (register-major: register r of lane l at r·32 + l, the
/// operand indices arriving already multiplied by 32). Indices come from the decoder, which only
/// produces registers of the file, so the loops skip bounds checks.
/// </summary>
internal static class Lanes
{
    public const uint All = uint.MaxValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Map<T>(ulong[] file, int d, int a, int b, int c, uint mask) where T : struct, ILaneOp
    {
        ref ulong r = ref MemoryMarshal.GetArrayDataReference(file);
        // Absent operands (-1) read lane 0 of register 0: the operation ignores them.
        a = Math.Max(a, 0);
        b = Math.Max(b, 0);
        c = Math.Max(c, 0);
        if (mask == All)
        {
            for (int l = 0; l < 32; l++)
                Unsafe.Add(ref r, d + l) = T.Apply(Unsafe.Add(ref r, a + l), Unsafe.Add(ref r, b + l), Unsafe.Add(ref r, c + l));
            return;
        }
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            Unsafe.Add(ref r, d + l) = T.Apply(Unsafe.Add(ref r, a + l), Unsafe.Add(ref r, b + l), Unsafe.Add(ref r, c + l));
        }
    }

    /// <summary>
    /// <see cref="Map{T}"/> with the full-warp case in 512-bit vectors where the hardware has them
    /// (the register file stores 32-bit values zero-extended, so f32 operations run on the even
    /// 32-bit halves and the odd halves are masked back to zero).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MapVector<T>(ulong[] file, int d, int a, int b, int c, uint mask) where T : struct, IVectorLaneOp
    {
        if (mask != All || !Vector512.IsHardwareAccelerated)
        {
            Map<T>(file, d, a, b, c, mask);
            return;
        }
        ref ulong r = ref MemoryMarshal.GetArrayDataReference(file);
        a = Math.Max(a, 0);
        b = Math.Max(b, 0);
        c = Math.Max(c, 0);
        for (int l = 0; l < 32; l += 8)
        {
            Vector512<ulong> va = Vector512.LoadUnsafe(ref r, (nuint)(a + l));
            Vector512<ulong> vb = Vector512.LoadUnsafe(ref r, (nuint)(b + l));
            Vector512<ulong> vc = Vector512.LoadUnsafe(ref r, (nuint)(c + l));
            T.Apply(va, vb, vc).StoreUnsafe(ref r, (nuint)(d + l));
        }
    }

    public static readonly Vector512<ulong> Low32 = Vector512.Create(0xFFFF_FFFFUL);

    /// <summary>The lanes of <paramref name="mask"/> whose predicate register <paramref name="guard"/> is set (clear when negated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static uint Guard(ulong[] file, int guard, uint mask, bool negated)
    {
        ref ulong r = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(file), guard);
        uint set = 0;
        for (int l = 0; l < 32; l++)
            set |= (Unsafe.Add(ref r, l) != 0 ? 1u : 0u) << l;
        return mask & (negated ? ~set : set);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref ulong At(ulong[] file, int index) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(file), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F32(ulong bits) => BitConverter.UInt32BitsToSingle((uint)bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double F64(ulong bits) => BitConverter.UInt64BitsToDouble(bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bits(float v) => BitConverter.SingleToUInt32Bits(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bits(double v) => BitConverter.DoubleToUInt64Bits(v);
}

// Specialised operations. Each matches PtxArithmetic's scalar semantics for its types (32-bit
// values are kept zero-extended in the 64-bit register slots).
internal struct MovOp : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a;
}

internal struct AddI32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)((uint)a + (uint)b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a + b) & Lanes.Low32;
}

internal struct SubI32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)((uint)a - (uint)b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a - b) & Lanes.Low32;
}

internal struct MulLoI32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)((uint)a * (uint)b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a * b) & Lanes.Low32;
}

internal struct AddI64 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a + b;
}

internal struct SubI64 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a - b;
}

internal struct MulLoI64 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a * b;
}

internal struct AddF32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Lanes.F32(a) + Lanes.F32(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a.AsSingle() + b.AsSingle()).AsUInt64() & Lanes.Low32;
}

internal struct SubF32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Lanes.F32(a) - Lanes.F32(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a.AsSingle() - b.AsSingle()).AsUInt64() & Lanes.Low32;
}

internal struct MulF32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Lanes.F32(a) * Lanes.F32(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a.AsSingle() * b.AsSingle()).AsUInt64() & Lanes.Low32;
}

internal struct DivF32 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Lanes.F32(a) / Lanes.F32(b));
}

internal struct FmaF32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(MathF.FusedMultiplyAdd(Lanes.F32(a), Lanes.F32(b), Lanes.F32(c)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).AsUInt64() & Lanes.Low32;
}

internal struct AddF64 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Lanes.F64(a) + Lanes.F64(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a.AsDouble() + b.AsDouble()).AsUInt64();
}

internal struct SubF64 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Lanes.F64(a) - Lanes.F64(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a.AsDouble() - b.AsDouble()).AsUInt64();
}

internal struct MulF64 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Lanes.F64(a) * Lanes.F64(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => (a.AsDouble() * b.AsDouble()).AsUInt64();
}

internal struct FmaF64 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits(Math.FusedMultiplyAdd(Lanes.F64(a), Lanes.F64(b), Lanes.F64(c)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).AsUInt64();
}

internal struct AndOp : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a & b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a & b;
}

internal struct OrOp : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a | b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a | b;
}

internal struct XorOp : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a ^ b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a ^ b;
}

internal struct ShlB32 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)b >= 32 ? 0 : (uint)((uint)a << (int)(uint)b);
}

internal struct ShrU32 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)b >= 32 ? 0 : (uint)a >> (int)(uint)b;
}

internal struct ShrS32 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)((int)(uint)a >> (int)Math.Min((uint)b, 31u));
}

internal struct ShlB64 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)b >= 64 ? 0 : a << (int)(uint)b;
}

internal struct ShrU64 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)b >= 64 ? 0 : a >> (int)(uint)b;
}

internal struct ShrS64 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (ulong)((long)a >> (int)Math.Min((uint)b, 63u));
}

internal struct SelpOp : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => c != 0 ? a : b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => Vector512.ConditionalSelect(Vector512.Equals(c, Vector512<ulong>.Zero), b, a);
}

internal struct CvtS64S32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (ulong)(long)(int)(uint)a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => Vector512.ShiftRightArithmetic((a << 32).AsInt64(), 32).AsUInt64();
}

internal struct CvtU64U32 : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => (uint)a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a & Lanes.Low32;
}

internal struct CvtF32S32 : ILaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => Lanes.Bits((float)(int)(uint)a);
}

internal struct CvtaShared : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a | 1UL << 62;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a | Vector512.Create(1UL << 62);
}

internal struct CvtaLocal : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a | 2UL << 62;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a | Vector512.Create(2UL << 62);
}

internal struct CvtaStrip : IVectorLaneOp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Apply(ulong a, ulong b, ulong c) => a & (1UL << 62) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ulong> Apply(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c) => a & Vector512.Create((1UL << 62) - 1);
}
