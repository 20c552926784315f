using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>Executing one instruction for the lanes of a warp's group.</summary>
internal sealed partial class BlockRunner
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Step(EmulatedWarp w)
    {
        int pc = w.GroupPc;
        ref XInst x = ref _code[pc];
        uint group = w.Group;
        uint mask = x.Guard >= 0 ? Lanes.Guard(w.File, x.Guard, group, x.GuardNegated) : group;
        switch (x.Op)
        {
            case XOp.Bra:
                if (mask == group)
                {
                    w.GroupPc = x.Target;
                    return;
                }
                if (mask != 0)
                {
                    // The warp splits: each lane remembers where it goes; the lowest path runs first.
                    for (uint m = mask; m != 0; m &= m - 1)
                        w.Pc[BitOperations.TrailingZeroCount(m)] = x.Target;
                    for (uint m = group & ~mask; m != 0; m &= m - 1)
                        w.Pc[BitOperations.TrailingZeroCount(m)] = pc + 1;
                    w.Group = 0;
                    return;
                }
                break;
            case XOp.Ret:
                w.Live &= ~mask;
                w.Running &= ~mask;
                w.Group = group & ~mask;
                break;
            case XOp.Bar or XOp.BarRed:
                for (uint m = mask; m != 0; m &= m - 1)
                {
                    int l = BitOperations.TrailingZeroCount(m);
                    w.Pc[l] = pc + 1;
                    if (x.Op == XOp.BarRed)
                        _votes[w.Index * 32 + l] = (Lanes.At(w.File, x.B + l) != 0) != x.NegateB;
                }
                w.AtBarrier |= mask;
                w.Running &= ~mask;
                w.Group = group & ~mask;
                break;
            case XOp.Shfl or XOp.Mma or XOp.WarpSync:
                if (mask == 0)
                    break;
                if (mask == w.Live)
                {
                    Collective(w, ref x, mask, pc);
                    break;
                }
                // Not every live lane is here: wait for the others (released by ReleaseRendezvous).
                for (uint m = mask; m != 0; m &= m - 1)
                    w.Pc[BitOperations.TrailingZeroCount(m)] = pc;
                w.Running &= ~mask;
                w.Group = group & ~mask;
                break;
            case XOp.Membar:
                break;
            default:
                if (mask != 0)
                    Execute(w, ref x, mask, pc);
                break;
        }
        w.GroupPc = pc + 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Execute(EmulatedWarp w, ref XInst x, uint mask, int pc)
    {
        ulong[] f = w.File;
        switch (x.Op)
        {
            case XOp.Mov or XOp.CvtaToGlobal: Lanes.MapVector<MovOp>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.AddI32: Lanes.MapVector<AddI32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.SubI32: Lanes.MapVector<SubI32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.MulLoI32: Lanes.MapVector<MulLoI32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.AddI64: Lanes.MapVector<AddI64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.SubI64: Lanes.MapVector<SubI64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.MulLoI64: Lanes.MapVector<MulLoI64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.AddF32: Lanes.MapVector<AddF32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.SubF32: Lanes.MapVector<SubF32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.MulF32: Lanes.MapVector<MulF32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.DivF32: Lanes.Map<DivF32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.FmaF32: Lanes.MapVector<FmaF32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.AddF64: Lanes.MapVector<AddF64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.SubF64: Lanes.MapVector<SubF64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.MulF64: Lanes.MapVector<MulF64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.FmaF64: Lanes.MapVector<FmaF64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.And: Lanes.MapVector<AndOp>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.Or: Lanes.MapVector<OrOp>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.Xor: Lanes.MapVector<XorOp>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.ShlB32: Lanes.Map<ShlB32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.ShrU32: Lanes.Map<ShrU32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.ShrS32: Lanes.Map<ShrS32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.ShlB64: Lanes.Map<ShlB64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.ShrU64: Lanes.Map<ShrU64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.ShrS64: Lanes.Map<ShrS64>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.Selp: Lanes.MapVector<SelpOp>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.CvtS64S32: Lanes.MapVector<CvtS64S32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.CvtU64U32 or XOp.CvtU32U64: Lanes.MapVector<CvtU64U32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.CvtF32S32: Lanes.Map<CvtF32S32>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.CvtaShared: Lanes.MapVector<CvtaShared>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.CvtaLocal: Lanes.MapVector<CvtaLocal>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.CvtaStrip: Lanes.MapVector<CvtaStrip>(f, x.D, x.A, x.B, x.C, mask); return;
            case XOp.SetpInt: SetpInt(f, ref x, mask); return;
            case XOp.SetpF32 or XOp.SetpF64: SetpFloat(f, ref x, mask); return;
            case XOp.Ld: Load(w, ref x, mask, pc); return;
            case XOp.St: Store(w, ref x, mask, pc); return;
            case XOp.Atom: Atomic(w, ref x, mask, pc); return;
            default: Generic(w, ref x, mask, pc); return;
        }
    }

    /// <summary>Any other instruction: the scalar semantics, lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Generic(EmulatedWarp w, ref XInst x, uint mask, int pc)
    {
        PInstruction ins = _kernel.Code[pc];
        ulong[] f = w.File;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ulong a = x.A >= 0 ? f[x.A + l] : 0, b = x.B >= 0 ? f[x.B + l] : 0, c = x.C >= 0 ? f[x.C + l] : 0;
            try
            {
                ulong result = PtxArithmetic.Compute(ins, a, b, c);
                if (x.D >= 0)
                    f[x.D + l] = result;
            }
            catch (PtxEmulatorException e)
            {
                throw Fault(w, l, pc, e.Message, e);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SetpInt(ulong[] f, ref XInst x, uint mask)
    {
        XCmp cmp = x.Cmp;
        bool wide = x.Size == 64;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ulong ua = Lanes.At(f, x.A + l), ub = Lanes.At(f, x.B + l);
            long sa, sb;
            if (wide)
            {
                sa = (long)ua;
                sb = (long)ub;
            }
            else
            {
                ua = (uint)ua;
                ub = (uint)ub;
                sa = (int)(uint)ua;
                sb = (int)(uint)ub;
            }
            bool r = cmp switch
            {
                XCmp.Eq => ua == ub, XCmp.Ne => ua != ub,
                XCmp.LtS => sa < sb, XCmp.LeS => sa <= sb, XCmp.GtS => sa > sb, XCmp.GeS => sa >= sb,
                XCmp.LtU => ua < ub, XCmp.LeU => ua <= ub, XCmp.GtU => ua > ub, _ => ua >= ub,
            };
            Lanes.At(f, x.D + l) = r ? 1UL : 0UL;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SetpFloat(ulong[] f, ref XInst x, uint mask)
    {
        XCmp cmp = x.Cmp;
        bool single = x.Op == XOp.SetpF32;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ulong ba = Lanes.At(f, x.A + l), bb = Lanes.At(f, x.B + l);
            double a = single ? Lanes.F32(ba) : Lanes.F64(ba), b = single ? Lanes.F32(bb) : Lanes.F64(bb);
            bool nan = double.IsNaN(a) || double.IsNaN(b);
            bool r = cmp switch
            {
                XCmp.Nan => nan,
                XCmp.Num => !nan,
                XCmp.Equ or XCmp.Neu or XCmp.Ltu or XCmp.Leu or XCmp.Gtu or XCmp.Geu when nan => true,
                _ when nan => false,
                XCmp.Eq or XCmp.Equ => a == b,
                XCmp.Ne or XCmp.Neu => a != b,
                XCmp.Lt or XCmp.Ltu => a < b,
                XCmp.Le or XCmp.Leu => a <= b,
                XCmp.Gt or XCmp.Gtu => a > b,
                _ => a >= b,
            };
            Lanes.At(f, x.D + l) = r ? 1UL : 0UL;
        }
    }
}
