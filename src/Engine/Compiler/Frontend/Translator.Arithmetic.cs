using Tessera.Engine.Compiler.IL;
using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Frontend;

internal sealed partial class Translator
{
    private bool TryArithmetic(string name, List<AbstractValue> stack)
    {
        switch (name)
        {
            case "add" or "sub" or "mul" or "div" or "div.un" or "rem" or "rem.un" or "and" or "or" or "xor":
                {
                    Value b = PopValue(stack), a = PopValue(stack);
                    Op op = name switch
                    {
                        "add" => Op.Add, "sub" => Op.Sub, "mul" => Op.Mul, "div" or "div.un" => Op.Div,
                        "rem" or "rem.un" => Op.Rem, "and" => Op.And, "or" => Op.Or, _ => Op.Xor,
                    };
                    stack.Add(Binary(op, a, b, name.EndsWith(".un", StringComparison.Ordinal)));
                    return true;
                }
            case "shl" or "shr" or "shr.un":
                {
                    Value amount = Coerce(PopValue(stack), IrType.I32), a = PopValue(stack);
                    a = a.Type == IrType.Pred ? Coerce(a, IrType.I32) : a;
                    stack.Add(Emit(new Inst(name == "shl" ? Op.Shl : Op.Shr, a.Type, a, amount) { Unsigned = name == "shr.un" }));
                    return true;
                }
            case "neg":
                {
                    Value a = PopValue(stack);
                    a = a.Type == IrType.Pred ? Coerce(a, IrType.I32) : a;
                    stack.Add(Emit(new Inst(Op.Neg, a.Type, a)));
                    return true;
                }
            case "not":
                {
                    Value a = PopValue(stack);
                    a = a.Type == IrType.Pred ? Coerce(a, IrType.I32) : a;
                    stack.Add(Emit(new Inst(Op.Not, a.Type, a)));
                    return true;
                }
            case "ceq" or "cgt" or "cgt.un" or "clt" or "clt.un":
                {
                    Value b = PopValue(stack), a = PopValue(stack);
                    CmpKind kind = name switch { "ceq" => CmpKind.Eq, "cgt" or "cgt.un" => CmpKind.Gt, _ => CmpKind.Lt };
                    stack.Add(Compare(kind, a, b, name.EndsWith(".un", StringComparison.Ordinal), name.EndsWith(".un", StringComparison.Ordinal)));
                    return true;
                }
        }
        if (name.StartsWith("conv.", StringComparison.Ordinal))
        {
            stack.Add(ConvertIL(name[5..], PopValue(stack)));
            return true;
        }
        return false;
    }

    private bool TryCompareBranch(ILInstruction ins, string name, List<AbstractValue> stack)
    {
        string baseName = name.EndsWith(".s", StringComparison.Ordinal) ? name[..^2] : name;
        bool un = baseName.EndsWith(".un", StringComparison.Ordinal);
        CmpKind? kind = (un ? baseName[..^3] : baseName) switch
        {
            "beq" => CmpKind.Eq, "bne" => CmpKind.Ne, "blt" => CmpKind.Lt, "ble" => CmpKind.Le, "bgt" => CmpKind.Gt, "bge" => CmpKind.Ge, _ => null,
        };
        if (kind is null)
            return false;
        Value b = PopValue(stack), a = PopValue(stack);
        ConditionalBranch(Compare(kind.Value, a, b, un, un || kind == CmpKind.Ne), ins, stack);
        return true;
    }

    private Value Binary(Op op, Value a, Value b, bool unsigned)
    {
        if (a.Type == IrType.Pred && b.Type == IrType.Pred && op is Op.And or Op.Or or Op.Xor)
            return Emit(new Inst(op, IrType.Pred, a, b));
        if (a.Type == IrType.Ptr || b.Type == IrType.Ptr)
        {
            if (op == Op.Add)
                return a.Type == IrType.Ptr ? PtrAdd(a, b) : PtrAdd(b, a);
            if (op == Op.Sub && a.Type == IrType.Ptr && b.Type != IrType.Ptr)
                return PtrAdd(a, Emit(new Inst(Op.Neg, IrType.I64, Coerce(b, IrType.I64))));
            throw Error("pointer arithmetic other than pointer ± integer", "Index views with view[i] instead of computing addresses.");
        }
        IrType type = Unify([a.Type == IrType.Pred ? IrType.I32 : a.Type, b.Type == IrType.Pred ? IrType.I32 : b.Type]);
        if (type.IsFloat() && op is Op.And or Op.Or or Op.Xor)
            throw Error("a bitwise operation on floating-point values", "Use BitConverter.SingleToInt32Bits first.");
        if (type.IsFloat() && op == Op.Rem)
            throw Error("the floating-point remainder (%) has no PTX instruction", "Write x - MathF.Truncate(x / y) * y.");
        return Emit(new Inst(op, type, Coerce(a, type, unsigned), Coerce(b, type, unsigned)) { Unsigned = unsigned });
    }

    private Value PtrAdd(Value pointer, Value offset)
    {
        var inst = new Inst(Op.PtrAdd, IrType.Ptr, pointer, Coerce(offset, IrType.I64)) { Space = pointer.Space };
        return Emit(inst);
    }

    private Value Compare(CmpKind kind, Value a, Value b, bool unsigned, bool unordered)
    {
        // (p ? 1 : 0) == 0 and friends: keep predicates as predicates.
        if (a.Type == IrType.Pred && b is Const c && (kind is CmpKind.Eq or CmpKind.Ne))
            return (kind == CmpKind.Eq) == (c.Bits == 0) ? Not(a) : a;
        IrType type = Unify([a.Type == IrType.Pred ? IrType.I32 : a.Type, b.Type == IrType.Pred ? IrType.I32 : b.Type]);
        bool isFloat = type.IsFloat();
        return Emit(new Inst(Op.Cmp, IrType.Pred, Coerce(a, type, unsigned), Coerce(b, type, unsigned))
        {
            Cmp = kind,
            Unsigned = unsigned && !isFloat,
            Unordered = unordered && isFloat,
        });
    }

    private Value Not(Value p) => Emit(new Inst(Op.Not, IrType.Pred, AsPred(p)));

    private Value AsPred(Value v) => v.Type == IrType.Pred ? v : Compare(CmpKind.Ne, v, Const.Zero(v.Type == IrType.Ptr ? IrType.I64 : v.Type), false, true);

    /// <summary>The implicit conversions of the IL evaluation stack (and bool ↔ int).</summary>
    private Value Coerce(Value v, IrType to, bool sourceUnsigned = false)
    {
        if (v.Type == to)
            return v;
        if (v.Type == IrType.Pred)
            return Emit(new Inst(Op.Select, to, v, Const.Int(to, 1), Const.Zero(to)));
        if (to == IrType.Pred)
            return AsPred(v);
        if (to == IrType.Ptr || v.Type == IrType.Ptr)
            return Emit(new Inst(Op.BitCast, to, Coerce(v, IrType.I64)) { Space = AddressSpace.None });
        return Emit(new Inst(Op.Convert, to, v) { SourceUnsigned = sourceUnsigned });
    }

    private Value ConvertIL(string suffix, Value v)
    {
        if (v.Type == IrType.Pred)
            v = Coerce(v, IrType.I32);
        if (v.Type == IrType.Ptr)
            v = Coerce(v, IrType.I64);
        switch (suffix)
        {
            case "i1" or "u1" or "i2" or "u2":
                {
                    Value i = v.Type == IrType.I32 ? v : Emit(new Inst(Op.Convert, IrType.I32, v));
                    int bits = suffix[1] == '1' ? 8 : 16;
                    if (suffix[0] == 'u')
                        return Emit(new Inst(Op.And, IrType.I32, i, Const.Int(IrType.I32, (1 << bits) - 1)));
                    Value up = Emit(new Inst(Op.Shl, IrType.I32, i, Const.Int(IrType.I32, 32 - bits)));
                    return Emit(new Inst(Op.Shr, IrType.I32, up, Const.Int(IrType.I32, 32 - bits)));
                }
            case "i4" or "u4":
                return v.Type == IrType.I32 ? v : Emit(new Inst(Op.Convert, IrType.I32, v) { Unsigned = suffix == "u4" });
            case "i8" or "i":
                return v.Type == IrType.I64 ? v : Emit(new Inst(Op.Convert, IrType.I64, v));
            case "u8" or "u":
                return v.Type == IrType.I64 ? v : Emit(new Inst(Op.Convert, IrType.I64, v) { Unsigned = true, SourceUnsigned = true });
            case "r4":
                return v.Type == IrType.F32 ? v : Emit(new Inst(Op.Convert, IrType.F32, v));
            case "r8":
                return v.Type == IrType.F64 ? v : Emit(new Inst(Op.Convert, IrType.F64, v));
            case "r.un":
                return Emit(new Inst(Op.Convert, IrType.F64, v) { SourceUnsigned = true });
        }
        throw Error($"the conversion conv.{suffix} is not supported", "Use a plain cast between int, long, float and double.");
    }
}
