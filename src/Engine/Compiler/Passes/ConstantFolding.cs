using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>
/// Folds instructions whose operands are constants (specialisation constants and static readonly
/// fields arrive here as constants), simple identities, trivial phis and constant branches.
/// </summary>
internal static class ConstantFolding
{
    public static bool Run(Function f)
    {
        bool changed = false;
        foreach (Block b in f.Blocks)
        {
            foreach (Phi phi in b.Phis.ToList())
            {
                Value? same = null;
                bool trivial = true;
                foreach ((_, Value v0) in phi.Incoming)
                {
                    Value v = v0.Resolve();
                    if (v == phi || v == same || (v is Const c && same is Const s && SameConst(c, s)))
                        continue;
                    if (same is not null)
                    {
                        trivial = false;
                        break;
                    }
                    same = v;
                }
                if (trivial && same is not null)
                {
                    phi.ReplacedBy = same;
                    b.Phis.Remove(phi);
                    changed = true;
                }
            }
            foreach (Inst inst in b.Insts.ToList())
            {
                for (int i = 0; i < inst.Args.Length; i++)
                    inst.Args[i] = inst.Args[i].Resolve();
                Value? folded = Fold(inst);
                if (folded is not null)
                {
                    inst.ReplacedBy = folded;
                    b.Insts.Remove(inst);
                    changed = true;
                }
            }
            if (b.Kind == TerminatorKind.CondBranch && b.Condition!.Resolve() is Inst { Op: Op.Not } negated)
            {
                // Branch on x instead of on !x, with the targets swapped.
                b.Condition = negated.Args[0];
                b.Targets = [b.Targets[1], b.Targets[0]];
                changed = true;
            }
            if (b.Kind == TerminatorKind.CondBranch && b.Condition!.Resolve() is Const cond)
            {
                Block keep = cond.Bits != 0 ? b.Targets[0] : b.Targets[1];
                Block drop = cond.Bits != 0 ? b.Targets[1] : b.Targets[0];
                Cfg.RemoveEdge(b, drop);
                b.Kind = TerminatorKind.Branch;
                b.Targets = [keep];
                b.Condition = null;
                changed = true;
            }
        }
        Cfg.ResolveUses(f);
        return changed;
    }

    private static bool SameConst(Const a, Const b) => a.Type == b.Type && a.Bits == b.Bits && BitConverter.DoubleToInt64Bits(a.Real) == BitConverter.DoubleToInt64Bits(b.Real);

    private static Value? Fold(Inst i)
    {
        Value[] a = i.Args;
        if (i.Op == Op.Select && a[0] is Const c0)
            return c0.Bits != 0 ? a[1] : a[2];
        if (i.Op == Op.PtrAdd && a[1] is Const outer && a[0] is Inst { Op: Op.PtrAdd } p && p.Args[1] is Const innerOffset)
            return null == i.Block ? null : Reassociate(i, p, outer, innerOffset);
        if (i.Op == Op.Not && a[0] is Inst { Op: Op.Not } inner)
            return inner.Args[0];
        if (!i.IsPure || i.Op is Op.Special or Op.SharedBase or Op.LocalBase or Op.DynamicSharedBase)
            return null;
        if (a.Length == 2 && a[1] is Const r && !r.Type.IsFloat())
        {
            // Integer identities (float ones would change -0.0 and NaN behaviour).
            if (r.Bits == 0 && i.Op is Op.Add or Op.Sub or Op.Or or Op.Xor or Op.Shl or Op.Shr or Op.PtrAdd && !i.Type.IsFloat())
                return a[0];
            if (r.Bits == 1 && i.Op is Op.Mul or Op.Div && !i.Type.IsFloat())
                return a[0];
        }
        if (a.Length == 2 && a[0] is Const l && !l.Type.IsFloat() && l.Bits == 1 && i.Op == Op.Mul && !i.Type.IsFloat())
            return a[1];
        if (a.Length == 0 || a.Any(x => x is not Const) || i.Op is Op.Ex2 or Op.Lg2 or Op.Rsqrt or Op.Sin or Op.Cos)
            return null;
        try
        {
            return Evaluate(i, a.Cast<Const>().ToArray());
        }
        catch (DivideByZeroException)
        {
            return null;
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    internal static Const? EvaluateConstant(Inst i, Const[] c)
    {
        try
        {
            return Evaluate(i, c);
        }
        catch (ArithmeticException)
        {
            return null;
        }
    }

    private static Const? Evaluate(Inst i, Const[] c)
    {
        IrType t = i.Type;
        IrType src = c[0].Type;
        if (i.Op == Op.Cmp)
        {
            bool result;
            if (src.IsFloat())
            {
                double x = c[0].Real, y = c[1].Real;
                bool unordered = double.IsNaN(x) || double.IsNaN(y);
                result = unordered ? i.Unordered : i.Cmp switch
                {
                    CmpKind.Eq => x == y, CmpKind.Ne => x != y, CmpKind.Lt => x < y, CmpKind.Le => x <= y, CmpKind.Gt => x > y, _ => x >= y,
                };
            }
            else if (i.Unsigned)
            {
                ulong x = Unsigned(c[0]), y = Unsigned(c[1]);
                result = i.Cmp switch { CmpKind.Eq => x == y, CmpKind.Ne => x != y, CmpKind.Lt => x < y, CmpKind.Le => x <= y, CmpKind.Gt => x > y, _ => x >= y };
            }
            else
            {
                long x = c[0].Bits, y = c[1].Bits;
                result = i.Cmp switch { CmpKind.Eq => x == y, CmpKind.Ne => x != y, CmpKind.Lt => x < y, CmpKind.Le => x <= y, CmpKind.Gt => x > y, _ => x >= y };
            }
            return Const.Int(IrType.Pred, result ? 1 : 0);
        }
        if (i.Op == Op.Convert)
        {
            if (t.IsFloat())
                return Const.Float(t, src.IsFloat() ? c[0].Real : i.SourceUnsigned ? Unsigned(c[0]) : c[0].Bits);
            if (src.IsFloat())
                return null;
            return Const.Int(t, t == IrType.I64 && i.SourceUnsigned ? (long)Unsigned(c[0]) : c[0].Bits);
        }
        if (t.IsFloat())
        {
            double x = c[0].Real, y = c.Length > 1 ? c[1].Real : 0;
            double? r = i.Op switch
            {
                Op.Add => x + y, Op.Sub => x - y, Op.Mul => x * y, Op.Div => x / y, Op.Neg => -x,
                Op.Abs => Math.Abs(x), Op.Sqrt => Math.Sqrt(x), Op.Floor => Math.Floor(x), Op.Ceil => Math.Ceiling(x),
                Op.Round => Math.Round(x, MidpointRounding.ToEven), Op.Trunc => Math.Truncate(x),
                Op.Fma => t == IrType.F32 ? MathF.FusedMultiplyAdd((float)x, (float)y, (float)c[2].Real) : Math.FusedMultiplyAdd(x, y, c[2].Real),
                _ => null,
            };
            if (r is null)
                return null;
            // f32 arithmetic must round each result to f32 (the Const factory does).
            if (t == IrType.F32 && i.Op is Op.Add or Op.Sub or Op.Mul or Op.Div)
                r = i.Op switch { Op.Add => (float)x + (float)y, Op.Sub => (float)x - (float)y, Op.Mul => (float)x * (float)y, _ => (float)x / (float)y };
            return Const.Float(t, r.Value);
        }
        if (t == IrType.Pred)
        {
            long x = c[0].Bits, y = c.Length > 1 ? c[1].Bits : 0;
            long? r = i.Op switch { Op.And => x & y, Op.Or => x | y, Op.Xor => x ^ y, Op.Not => 1 - x, _ => null };
            return r is null ? null : Const.Int(IrType.Pred, r.Value);
        }
        if (t is IrType.I32 or IrType.I64)
        {
            bool is32 = t == IrType.I32;
            long x = c[0].Bits, y = c.Length > 1 ? c[1].Bits : 0;
            ulong ux = Unsigned(c[0]), uy = c.Length > 1 ? Unsigned(c[1]) : 0;
            int bits = is32 ? 32 : 64;
            long? r = i.Op switch
            {
                Op.Add => x + y, Op.Sub => x - y, Op.Mul => x * y,
                Op.Div => i.Unsigned ? (long)(ux / uy) : x / y,
                Op.Rem => i.Unsigned ? (long)(ux % uy) : x % y,
                Op.And => x & y, Op.Or => x | y, Op.Xor => x ^ y, Op.Neg => -x, Op.Not => ~x,
                Op.Shl => y >= bits ? 0 : x << (int)y,
                Op.Shr => i.Unsigned ? (y >= bits ? 0 : (long)(ux >> (int)y)) : x >> (int)Math.Min(y, bits - 1),
                Op.Min => i.Unsigned ? (long)Math.Min(ux, uy) : Math.Min(x, y),
                Op.Max => i.Unsigned ? (long)Math.Max(ux, uy) : Math.Max(x, y),
                Op.Abs => Math.Abs(x),
                _ => null,
            };
            return r is null ? null : Const.Int(t, r.Value);
        }
        return null;
    }

    /// <summary>(p + c1) + c2 → p + (c1 + c2), so constant offsets from a base stay visible.</summary>
    private static Value Reassociate(Inst i, Inst inner, Const outer, Const innerOffset)
    {
        var merged = new Inst(Op.PtrAdd, IrType.Ptr, inner.Args[0], Const.Int(IrType.I64, outer.Bits + innerOffset.Bits)) { Space = i.Space, Block = i.Block };
        i.Block!.Insts.Insert(i.Block.Insts.IndexOf(i), merged);
        return merged;
    }

    private static ulong Unsigned(Const c) => c.Type == IrType.I32 ? (uint)c.Bits : (ulong)c.Bits;
}
