using System.Reflection;
using System.Reflection.Emit;
using Tessera.Engine.Compiler.IL;
using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Frontend;

internal sealed partial class Translator
{
    private Type? _constrained;

    private void TranslateInstruction(ILInstruction ins, List<AbstractValue> stack)
    {
        string name = ins.OpCode.Name!;
        Frame f = Current;
        switch (name)
        {
            case "nop" or "readonly." or "volatile." or "tail.":
                return;
            case "constrained.":
                _constrained = ResolveType(ins.Int);
                return;
            case "ldarg.0" or "ldarg.1" or "ldarg.2" or "ldarg.3":
                stack.Add(ReadStorage(f.Args[name[^1] - '0']));
                return;
            case "ldarg" or "ldarg.s":
                stack.Add(ReadStorage(f.Args[ins.Int]));
                return;
            case "ldarga" or "ldarga.s":
                stack.Add(new SlotAddress(f.Args[ins.Int]));
                return;
            case "starg" or "starg.s":
                WriteStorage(f.Args[ins.Int], Pop(stack));
                return;
            case "ldloc.0" or "ldloc.1" or "ldloc.2" or "ldloc.3":
                stack.Add(ReadStorage(f.Locals[name[^1] - '0']));
                return;
            case "ldloc" or "ldloc.s":
                stack.Add(ReadStorage(f.Locals[ins.Int]));
                return;
            case "ldloca" or "ldloca.s":
                stack.Add(new SlotAddress(f.Locals[ins.Int]));
                return;
            case "stloc.0" or "stloc.1" or "stloc.2" or "stloc.3":
                WriteStorage(f.Locals[name[^1] - '0'], Pop(stack));
                return;
            case "stloc" or "stloc.s":
                WriteStorage(f.Locals[ins.Int], Pop(stack));
                return;
            case "ldc.i4" or "ldc.i4.s":
                stack.Add(Const.Int(IrType.I32, ins.Int));
                return;
            case "ldc.i4.m1":
                stack.Add(Const.Int(IrType.I32, -1));
                return;
            case "ldc.i8":
                stack.Add(Const.Int(IrType.I64, (long)ins.Operand!));
                return;
            case "ldc.r4":
                stack.Add(Const.Float(IrType.F32, (float)ins.Operand!));
                return;
            case "ldc.r8":
                stack.Add(Const.Float(IrType.F64, (double)ins.Operand!));
                return;
            case "dup":
                stack.Add(stack[^1]);
                return;
            case "pop":
                Pop(stack);
                return;
            case "ret":
                Return(stack);
                return;
            case "br" or "br.s":
                UnconditionalBranch(ins, stack);
                return;
            case "brtrue" or "brtrue.s" or "brfalse" or "brfalse.s":
                {
                    Value c = AsPred(PopValue(stack));
                    ConditionalBranch(name.StartsWith("brtrue", StringComparison.Ordinal) ? c : Not(c), ins, stack);
                    return;
                }
            case "switch":
                Switch(ins, PopValue(stack), stack);
                return;
            case "call" or "callvirt":
                Call(ins, stack, name == "callvirt");
                return;
            case "newobj":
                NewObject(ins, stack);
                return;
            case "ldfld" or "ldflda" or "stfld":
                FieldAccess(name, ResolveField(ins.Int), stack);
                return;
            case "ldsfld":
                stack.Add(StaticField(ResolveField(ins.Int)));
                return;
            case "initobj":
                {
                    Type t = ResolveType(ins.Int);
                    AbstractValue address = Pop(stack);
                    if (address is SlotAddress sa)
                        ZeroStorage(sa.Storage);
                    else
                        StoreThrough(address, t, ZeroValue(t));
                    return;
                }
            case "ldobj":
                stack.Add(LoadThrough(Pop(stack), ResolveType(ins.Int)));
                return;
            case "stobj":
                {
                    AbstractValue value = Pop(stack);
                    StoreThrough(Pop(stack), ResolveType(ins.Int), value);
                    return;
                }
            case "ldstr":
                stack.Add(new ManagedReference("a string"));
                return;
            case "ldnull":
                stack.Add(new ManagedReference("null"));
                return;
            case "sizeof":
                stack.Add(Const.Int(IrType.I32, SizeOf(ResolveType(ins.Int))));
                return;
        }
        if (name.StartsWith("ldind.", StringComparison.Ordinal))
        {
            stack.Add(LoadThrough(Pop(stack), IndirectType(name[6..])));
            return;
        }
        if (name.StartsWith("stind.", StringComparison.Ordinal))
        {
            AbstractValue value = Pop(stack);
            StoreThrough(Pop(stack), IndirectType(name[6..]), value);
            return;
        }
        if (name.StartsWith("ldc.i4.", StringComparison.Ordinal))
        {
            stack.Add(Const.Int(IrType.I32, name[^1] - '0'));
            return;
        }
        if (name.Contains(".ovf", StringComparison.Ordinal))
            Fail("checked arithmetic can throw OverflowException", "Remove 'checked' (or compile the kernel's project without <CheckForOverflowUnderflow>); test ranges explicitly.");
        if (TryArithmetic(name, stack) || TryCompareBranch(ins, name, stack))
            return;
        throw Unsupported(name);
    }

    private KernelCompileException Unsupported(string name) => name switch
    {
        "throw" or "rethrow" => Error("the kernel throws an exception", "Kernels cannot throw; check inputs on the host before the launch, or write a status flag into an output view."),
        "box" or "unbox" or "unbox.any" => Error("a value is boxed (converted to object or an interface)", "Keep values in their struct type; call interface methods through a generic type parameter constrained to the interface."),
        "newarr" or "ldlen" or "stelem" or "ldelema" or "ldelem" => Error("managed arrays live on the managed heap", "Use DeviceSpan<T> parameters, Shared.Allocate<T>(n) or Local.Allocate<T>(n)."),
        "localloc" => Error("stackalloc (localloc) has a size the compiler cannot bound", "Use Local.Allocate<T>(constant) for per-thread arrays."),
        "ldstr" => Error("strings are managed objects", "Remove the string; kernels cannot log or format text."),
        "ldftn" or "ldvirtftn" or "calli" => Error("delegates and function pointers cannot be inlined", "Write the function as a struct implementing IUnaryOp<T>/IBinaryOp<T> and pass it as a type argument."),
        "leave" or "leave.s" or "endfinally" or "endfilter" => Error("exception handling blocks are not supported", "Remove try/catch/finally."),
        "castclass" or "isinst" or "ldnull" => Error("the kernel uses object references or null", "Use structs and views; there is no managed heap on the device."),
        _ when name.StartsWith("ldelem", StringComparison.Ordinal) || name.StartsWith("stelem", StringComparison.Ordinal)
            => Error("managed arrays live on the managed heap", "Use DeviceSpan<T> parameters, Shared.Allocate<T>(n) or Local.Allocate<T>(n)."),
        _ => Error($"the IL instruction '{name}' is not supported by the kernel compiler", "Rewrite the expression with plain arithmetic, loops and DeviceSpan<T> accesses."),
    };

    private static Type IndirectType(string suffix) => suffix switch
    {
        "i1" => typeof(sbyte),
        "u1" => typeof(byte),
        "i2" => typeof(short),
        "u2" => typeof(ushort),
        "i4" => typeof(int),
        "u4" => typeof(uint),
        "i8" => typeof(long),
        "i" => typeof(nint),
        "r4" => typeof(float),
        "r8" => typeof(double),
        _ => typeof(object),
    };

    private static AbstractValue Pop(List<AbstractValue> stack)
    {
        AbstractValue v = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return v;
    }

    private Value PopValue(List<AbstractValue> stack) => Pop(stack) as Value
        ?? throw Error("an address or struct was used where a number was expected", "Load the value first.");

    // ---- tokens ----

    private Type ResolveType(int token) => Current.Method.Module.ResolveType(token, Current.TypeArgs, Current.MethodArgs);

    private FieldInfo ResolveField(int token) => Current.Method.Module.ResolveField(token, Current.TypeArgs, Current.MethodArgs)!;

    private MethodBase ResolveMethod(int token) => Current.Method.Module.ResolveMethod(token, Current.TypeArgs, Current.MethodArgs)!;

    private int SizeOf(Type t)
    {
        if (ClrTypes.MemoryType(t) is MemType m)
            return m.Size();
        if (ClrTypes.IsStruct(t))
            return System.Runtime.InteropServices.Marshal.SizeOf(t);
        throw ClassError(t, "sizeof");
    }

    private AbstractValue ZeroValue(Type t)
    {
        if (ClrTypes.IsStruct(t))
            return new StructValue(t, ClrTypes.InstanceFields(t).Select(fi => ZeroValue(fi.FieldType)).ToArray());
        IrType reg = ClrTypes.RegisterType(t) ?? throw ClassError(t, "initobj");
        return Const.Zero(reg);
    }

    // ---- fields ----

    private void FieldAccess(string name, FieldInfo field, List<AbstractValue> stack)
    {
        AbstractValue value = name == "stfld" ? Pop(stack) : null!;
        AbstractValue target = Pop(stack);
        if (field.DeclaringType is { IsValueType: false } owner)
            throw ClassError(owner, $"the field {field.Name}");
        switch (name, target)
        {
            case ("ldfld", StructValue sv):
                stack.Add(sv.Fields[Array.FindIndex(ClrTypes.InstanceFields(sv.Type), x => x.Name == field.Name)]);
                return;
            case ("ldfld", SlotAddress sa):
                stack.Add(ReadStorage(Member(sa, field)));
                return;
            case ("ldflda", SlotAddress sa):
                stack.Add(new SlotAddress(Member(sa, field)));
                return;
            case ("stfld", SlotAddress sa):
                WriteStorage(Member(sa, field), value);
                return;
            case (_, Value p) when p.Type == IrType.Ptr:
                {
                    Value address = PtrAdd(p, Const.Int(IrType.I64, System.Runtime.InteropServices.Marshal.OffsetOf(field.DeclaringType!, field.Name)));
                    if (name == "ldfld")
                        stack.Add(LoadThrough(address, field.FieldType));
                    else if (name == "ldflda")
                        stack.Add(address);
                    else
                        StoreThrough(address, field.FieldType, value);
                    return;
                }
        }
        throw Error($"the field {field.Name} was accessed on a value of unexpected shape", "Access fields of struct locals, parameters or views.");
    }

    private object Member(SlotAddress address, FieldInfo field)
    {
        if (address.Storage is not StructSlots slots)
            throw Error($"the field {field.Name} was accessed on a scalar", "Access fields on struct values only.");
        return slots.Members[slots.IndexOf(field)];
    }

    private Const StaticField(FieldInfo field)
    {
        if (field.IsStatic && (field.IsInitOnly || field.IsLiteral) && ClrTypes.RegisterType(field.FieldType) is IrType t && t != IrType.Ptr)
        {
            object v = field.GetValue(null)!;
            return t.IsFloat() ? Const.Float(t, Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture))
                : Const.Int(t, v is bool b ? (b ? 1 : 0) : Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture));
        }
        if (field.FieldType.Name.Contains("<>c", StringComparison.Ordinal) || (field.DeclaringType?.Name.Contains("<>c", StringComparison.Ordinal) ?? false))
            throw Error("a lambda or delegate is used (cached in the compiler-generated static field " + field.Name + ")",
                "Write the function as a struct implementing IUnaryOp<T>/IBinaryOp<T> and pass it as a type argument.");
        throw Error($"the static field {field.DeclaringType?.Name}.{field.Name} is host memory (only static readonly numeric fields become constants)",
            "Make it 'static readonly' or 'const', or pass the value as a kernel parameter.");
    }

    // ---- memory through addresses ----

    private AbstractValue LoadThrough(AbstractValue address, Type type)
    {
        if (address is SlotAddress sa)
        {
            AbstractValue v = ReadStorage(sa.Storage);
            return v is Value val && ClrTypes.RegisterType(type) is IrType t && t != IrType.Ptr ? Coerce(val, t) : v;
        }
        if (address is not Value p || p.Type != IrType.Ptr)
            throw Error("a load through something that is not an address", "Load from views (view[i]), ref locals or fields.");
        if (ClrTypes.IsStruct(type))
            return new StructValue(type, ClrTypes.InstanceFields(type).Select(fi => LoadThrough(
                PtrAdd(p, Const.Int(IrType.I64, System.Runtime.InteropServices.Marshal.OffsetOf(type, fi.Name))), fi.FieldType)).ToArray());
        MemType mem = ClrTypes.MemoryType(type) ?? throw ClassError(type, "a load");
        Value loaded = Emit(new Inst(Op.Load, mem.RegisterType(), p) { Mem = mem });
        return type == typeof(bool) ? Compare(CmpKind.Ne, loaded, Const.Int(IrType.I32, 0), false, false) : loaded;
    }

    private void StoreThrough(AbstractValue address, Type type, AbstractValue value)
    {
        if (address is SlotAddress sa)
        {
            WriteStorage(sa.Storage, value);
            return;
        }
        if (address is not Value p || p.Type != IrType.Ptr)
            throw Error("a store through something that is not an address", "Store into views (view[i] = x), ref locals or fields.");
        if (ClrTypes.IsStruct(type))
        {
            if (value is not StructValue sv)
                throw Error($"a {type.Name} store got a value of another shape", "Store values of the declared type.");
            FieldInfo[] fields = ClrTypes.InstanceFields(type);
            for (int i = 0; i < fields.Length; i++)
                StoreThrough(PtrAdd(p, Const.Int(IrType.I64, System.Runtime.InteropServices.Marshal.OffsetOf(type, fields[i].Name))), fields[i].FieldType, sv.Fields[i]);
            return;
        }
        MemType mem = ClrTypes.MemoryType(type) ?? throw ClassError(type, "a store");
        Value v = value as Value ?? throw Error("a struct or address was stored as a number", "Store scalar values.");
        Emit(new Inst(Op.Store, IrType.Pred, p, Coerce(v, mem.RegisterType())) { Mem = mem });
    }
}
