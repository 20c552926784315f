using System.Reflection;
using Tessera.Engine.Compiler.IL;
using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Frontend;

internal sealed partial class Translator
{
    private void Call(ILInstruction ins, List<AbstractValue> stack, bool isVirtual)
    {
        MethodBase method = ResolveMethod(ins.Int);
        Type? constrained = _constrained;
        _constrained = null;
        int count = method.GetParameters().Length + (method.IsStatic ? 0 : 1);
        var args = new AbstractValue[count];
        for (int i = count - 1; i >= 0; i--)
            args[i] = Pop(stack);
        if (constrained is not null)
            method = ResolveConstrained(constrained, (MethodInfo)method);
        else if (isVirtual && method.IsVirtual && !method.IsFinal && method.DeclaringType is { IsValueType: false })
            throw Error($"the virtual call {method.DeclaringType?.Name}.{method.Name} needs an object", "Call methods on structs or through a generic type parameter constrained to the interface.");
        if (method.DeclaringType is { IsValueType: false } owner && !method.IsStatic)
            throw ClassError(owner, $"the call to {owner.Name}.{method.Name}");
        AbstractValue? result = TryIntrinsic(method, args, out bool handled);
        if (!handled)
        {
            MethodBase target = Redirect(method) ?? method;
            result = CallInline(target, args);
        }
        if (result is not null)
            stack.Add(result);
    }

    private MethodInfo ResolveConstrained(Type constrained, MethodInfo method)
    {
        if (!constrained.IsValueType)
            throw ClassError(constrained, $"the constrained call to {method.Name}");
        Type declaring = method.DeclaringType!;
        if (declaring.IsInterface)
        {
            InterfaceMapping map = constrained.GetInterfaceMap(declaring);
            for (int i = 0; i < map.InterfaceMethods.Length; i++)
                if (map.InterfaceMethods[i].MetadataToken == method.MetadataToken)
                {
                    MethodInfo target = map.TargetMethods[i];
                    return target.IsGenericMethodDefinition ? target.MakeGenericMethod(method.GetGenericArguments()) : target;
                }
        }
        MethodInfo? own = constrained.GetMethod(method.Name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static,
            method.GetParameters().Select(p => p.ParameterType).ToArray());
        if (own is not null && own.DeclaringType == constrained)
            return own;
        throw Error($"{constrained.Name} does not override {declaring.Name}.{method.Name}, so the call would box it", "Implement the method on the struct, or avoid object methods (ToString, GetHashCode, Equals) in kernels.");
    }

    private void NewObject(ILInstruction ins, List<AbstractValue> stack)
    {
        var ctor = (ConstructorInfo)ResolveMethod(ins.Int);
        Type type = ctor.DeclaringType!;
        if (typeof(Exception).IsAssignableFrom(type))
            throw Unsupported("throw");
        if (!type.IsValueType)
            throw ClassError(type, "'new " + type.Name + "(...)'");
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Gpu.DeviceSpan<>))
            throw Error("a DeviceSpan is constructed from a pointer inside a kernel", "Take views as kernel parameters, use view.Slice(start, length), Shared.Allocate or Local.Allocate.");
        int count = ctor.GetParameters().Length;
        var args = new AbstractValue[count + 1];
        for (int i = count; i >= 1; i--)
            args[i] = Pop(stack);
        object temp = NewStorage(type, "new " + type.Name);
        ZeroStorage(temp);
        args[0] = new SlotAddress(temp);
        CallInline(ctor, args);
        stack.Add(ReadStorage(temp));
    }

    /// <summary>MathF functions implemented in the kernel subset by <see cref="Gpu.DeviceMath"/>.</summary>
    private static MethodInfo? Redirect(MethodBase method)
    {
        if (method.DeclaringType != typeof(MathF))
            return null;
        string? name = method.Name switch
        {
            "Exp" or "Log" or "Tanh" or "Pow" or "Sin" or "Cos" => method.Name,
            "ReciprocalSqrtEstimate" => "ReciprocalSqrt",
            _ => null,
        };
        return name is null ? null : typeof(Gpu.DeviceMath).GetMethod(name, method.GetParameters().Select(p => p.ParameterType).ToArray());
    }

    private Value Scalar(AbstractValue v) => v as Value ?? throw Error("a struct or address was passed where a number was expected", "Pass a number.");

    private Value AddressOf(AbstractValue v) => v is Value p && p.Type == IrType.Ptr
        ? p
        : throw Error("an atomic operation got a local variable instead of memory", "Pass 'ref view[i]' (global or shared memory) to atomics.");

    private AbstractValue? TryIntrinsic(MethodBase method, AbstractValue[] args, out bool handled)
    {
        handled = true;
        Type owner = method.DeclaringType!;
        string name = method.Name;
        Type? ownerDef = owner.IsGenericType ? owner.GetGenericTypeDefinition() : null;
        if (owner == typeof(Gpu.Grid))
        {
            SpecialReg? reg = name switch
            {
                "get_ThreadX" => SpecialReg.TidX, "get_ThreadY" => SpecialReg.TidY, "get_ThreadZ" => SpecialReg.TidZ,
                "get_BlockX" => SpecialReg.CtaidX, "get_BlockY" => SpecialReg.CtaidY, "get_BlockZ" => SpecialReg.CtaidZ,
                "get_BlockDimX" => SpecialReg.NtidX, "get_BlockDimY" => SpecialReg.NtidY, "get_BlockDimZ" => SpecialReg.NtidZ,
                "get_GridDimX" => SpecialReg.NctaidX, "get_GridDimY" => SpecialReg.NctaidY, "get_GridDimZ" => SpecialReg.NctaidZ,
                _ => null,
            };
            if (reg is not null)
                return Emit(new Inst(Op.Special, IrType.I32) { Special = reg.Value });
        }
        else if (owner == typeof(Gpu.Warp))
        {
            if (name == "get_LaneId")
                return Emit(new Inst(Op.Special, IrType.I32) { Special = SpecialReg.LaneId });
            Value v = Scalar(args[0]);
            ShuffleMode mode = name switch { "ShuffleXor" => ShuffleMode.Xor, "ShuffleDown" => ShuffleMode.Down, "ShuffleUp" => ShuffleMode.Up, _ => ShuffleMode.Index };
            Value lane = Coerce(Scalar(args[1]), IrType.I32);
            if (!v.Type.Is64())
                return Emit(new Inst(Op.Shuffle, v.Type, v, lane) { Shuffle = mode });
            // shfl.sync moves 32 bits: shuffle both halves of a long or double.
            Value bits = v.Type == IrType.I64 ? v : Emit(new Inst(Op.BitCast, IrType.I64, v));
            Value low = Emit(new Inst(Op.Convert, IrType.I32, bits));
            Value high = Emit(new Inst(Op.Convert, IrType.I32, Emit(new Inst(Op.Shr, IrType.I64, bits, Const.Int(IrType.I32, 32)) { Unsigned = true })));
            Value lowOut = Emit(new Inst(Op.Shuffle, IrType.I32, low, lane) { Shuffle = mode });
            Value highOut = Emit(new Inst(Op.Shuffle, IrType.I32, high, lane) { Shuffle = mode });
            Value joined = Emit(new Inst(Op.Or, IrType.I64,
                Emit(new Inst(Op.Shl, IrType.I64, Emit(new Inst(Op.Convert, IrType.I64, highOut) { SourceUnsigned = true }), Const.Int(IrType.I32, 32))),
                Emit(new Inst(Op.Convert, IrType.I64, lowOut) { SourceUnsigned = true })));
            return v.Type == IrType.I64 ? joined : Emit(new Inst(Op.BitCast, IrType.F64, joined));
        }
        else if (owner == typeof(Gpu.Block) && name == "Barrier")
        {
            Emit(new Inst(Op.Barrier, IrType.Pred));
            return null;
        }
        else if (owner == typeof(Gpu.TensorCore) && name is "MmaF16" or "MmaBF16")
        {
            MmaCall(name == "MmaBF16", args);
            return null;
        }
        else if (owner == typeof(Gpu.Fence))
        {
            Emit(new Inst(Op.Fence, IrType.Pred) { Fence = name switch { "Block" => FenceScope.Block, "Device" => FenceScope.Device, _ => FenceScope.System } });
            return null;
        }
        else if (owner == typeof(Gpu.Shared) || owner == typeof(Gpu.Local))
        {
            return Allocation(owner == typeof(Gpu.Shared), name, (MethodInfo)method, args);
        }
        else if (ownerDef == typeof(Gpu.DeviceSpan<>))
        {
            return SpanMember(owner, name, args);
        }
        else if (owner == typeof(Gpu.Atomic) && !(name == "Max" && method.GetParameters()[1].ParameterType == typeof(float)))
        {
            return AtomicCall(name, (MethodInfo)method, args);
        }
        else if (owner == typeof(Half) && name == "op_Explicit" && HalfConversion((MethodInfo)method, args) is AbstractValue converted)
        {
            return converted;
        }
        else if (owner == typeof(BitConverter) && name is "SingleToInt32Bits" or "Int32BitsToSingle" or "DoubleToInt64Bits" or "Int64BitsToDouble" or "SingleToUInt32Bits" or "UInt32BitsToSingle")
        {
            IrType to = ClrTypes.RegisterType(((MethodInfo)method).ReturnType)!.Value;
            return Emit(new Inst(Op.BitCast, to, Scalar(args[0])));
        }
        else if (owner == typeof(Gpu.Ptx) || owner == typeof(MathF) || owner == typeof(Math))
        {
            Value? math = MathIntrinsic(owner, name, (MethodInfo)method, args);
            if (math is not null)
                return math;
            if (owner == typeof(Math) && method.GetParameters().Any(p => p.ParameterType == typeof(double)))
                throw Error($"Math.{name}(double) has no device implementation", "Use the MathF (float) version, or Math.Sqrt/Abs/Min/Max/Floor/Ceiling/Round/FusedMultiplyAdd for doubles.");
        }
        handled = false;
        return null;
    }

    /// <summary>
    /// TensorCore.Mma*: one warp-wide mma.sync reading the fragment registers and the four
    /// accumulators (through their refs) and writing D back into the accumulators.
    /// </summary>
    private void MmaCall(bool bf16, AbstractValue[] args)
    {
        var operands = new Value[10];
        for (int i = 0; i < 6; i++)
            operands[i] = Coerce(Scalar(args[i]), IrType.I32);
        for (int i = 0; i < 4; i++)
            operands[6 + i] = Coerce(Scalar(LoadThrough(args[6 + i], typeof(float))), IrType.F32);
        Value d0 = Emit(new Inst(Op.Mma, IrType.F32, operands) { Symbol = bf16 ? 1 : 0 });
        StoreThrough(args[6], typeof(float), d0);
        for (int i = 1; i < 4; i++)
            StoreThrough(args[6 + i], typeof(float), Emit(new Inst(Op.MmaPart, IrType.F32, d0) { Symbol = i }));
    }

    /// <summary>(float)half and (Half)float as the hardware conversions (cvt.f32.f16, cvt.rn.f16.f32).</summary>
    private AbstractValue? HalfConversion(MethodInfo method, AbstractValue[] args)
    {
        Type from = method.GetParameters()[0].ParameterType, to = method.ReturnType;
        if (from == typeof(Half) && to == typeof(float) && args[0] is StructValue half)
            return Emit(new Inst(Op.HalfToFloat, IrType.F32, Coerce((Value)half.Fields[0], IrType.I32)));
        if (from == typeof(float) && to == typeof(Half))
            return new StructValue(typeof(Half), [Emit(new Inst(Op.FloatToHalf, IrType.I32, Coerce(Scalar(args[0]), IrType.F32)))]);
        return null;
    }

    private Value? MathIntrinsic(Type owner, string name, MethodInfo method, AbstractValue[] args)
    {
        if (name == "Clamp" && args.Length == 3)
        {
            // min(max(x, low), high); the BCL's check that low <= high would throw, so it is not inlined.
            IrType t = ClrTypes.RegisterType(method.ReturnType)!.Value;
            bool u = ClrTypes.IsUnsigned(method.ReturnType);
            Value low = Emit(new Inst(Op.Max, t, Coerce(Scalar(args[0]), t, u), Coerce(Scalar(args[1]), t, u)) { Unsigned = u });
            return Emit(new Inst(Op.Min, t, low, Coerce(Scalar(args[2]), t, u)) { Unsigned = u });
        }
        Op? op = name switch
        {
            "Sqrt" => Op.Sqrt, "Abs" => Op.Abs, "Min" => Op.Min, "Max" => Op.Max, "Floor" => Op.Floor, "Ceiling" => Op.Ceil,
            "Round" when args.Length == 1 => Op.Round, "Truncate" => Op.Trunc, "FusedMultiplyAdd" or "Fma" => Op.Fma,
            "Ex2" => Op.Ex2, "Lg2" => Op.Lg2, "Rsqrt" => Op.Rsqrt, "Sin" when owner == typeof(Gpu.Ptx) => Op.Sin,
            "Cos" when owner == typeof(Gpu.Ptx) => Op.Cos,
            _ => null,
        };
        if (op is null)
            return null;
        IrType type = ClrTypes.RegisterType(method.ReturnType)!.Value;
        bool unsigned = ClrTypes.IsUnsigned(method.ReturnType);
        if (type.IsFloat() == false && op is not (Op.Abs or Op.Min or Op.Max))
            return null;
        if (type == IrType.F64 && op is Op.Ex2 or Op.Lg2 or Op.Rsqrt or Op.Sin or Op.Cos)
            return null;
        Value[] values = args.Select(a => Coerce(Scalar(a), type, unsigned)).ToArray();
        return Emit(new Inst(op.Value, type, values) { Unsigned = unsigned });
    }

    private StructValue Allocation(bool shared, string name, MethodInfo method, AbstractValue[] args)
    {
        Type element = method.GetGenericArguments()[0];
        Type spanType = typeof(Gpu.DeviceSpan<>).MakeGenericType(element);
        int size = SizeOf(element);
        MemType mem = ClrTypes.MemoryType(element) ?? MemType.U8;
        if (name == "Dynamic")
        {
            _function.UsesDynamicShared = true;
            Value bytes = Emit(new Inst(Op.Special, IrType.I32) { Special = SpecialReg.DynamicSharedSize });
            Value count = Emit(new Inst(Op.Div, IrType.I32, bytes, Const.Int(IrType.I32, size)) { Unsigned = true });
            return new StructValue(spanType, [Emit(new Inst(Op.DynamicSharedBase, IrType.Ptr) { Space = AddressSpace.Shared }), count]);
        }
        if (args[0] is not Const { Type: IrType.I32 } length || length.Bits <= 0)
            throw Error($"{(shared ? "Shared" : "Local")}.Allocate needs a positive compile-time constant length",
                shared ? "Use a constant, a [Specialize] parameter, or Shared.Dynamic<T>() with the size given at launch." : "Use a constant or a [Specialize] parameter.");
        List<MemoryAllocation> list = shared ? _function.SharedAllocations : _function.LocalAllocations;
        int index = list.Count;
        list.Add(new MemoryAllocation($"{(shared ? "smem" : "lmem")}{index}", checked((int)length.Bits * size), Math.Max(size, 4), mem));
        Value pointer = Emit(new Inst(shared ? Op.SharedBase : Op.LocalBase, IrType.Ptr)
        {
            Symbol = index,
            Space = shared ? AddressSpace.Shared : AddressSpace.Local,
        });
        return new StructValue(spanType, [pointer, length]);
    }

    private AbstractValue SpanMember(Type spanType, string name, AbstractValue[] args)
    {
        AbstractValue self = args[0] is SlotAddress or StructValue ? args[0] : throw Error("a DeviceSpan member was called on a view in memory", "Keep views in parameters or locals.");
        var view = self as StructValue ?? (StructValue)LoadThrough(self, spanType);
        Value pointer = (Value)view.Fields[0], length = (Value)view.Fields[1];
        int size = SizeOf(spanType.GetGenericArguments()[0]);
        switch (name)
        {
            case "get_Length":
                return length;
            case "get_Item":
                {
                    Value index = Coerce(Scalar(args[1]), IrType.I64);
                    return PtrAdd(pointer, Emit(new Inst(Op.Mul, IrType.I64, index, Const.Int(IrType.I64, size))));
                }
            case "get_Address":
                return Coerce(pointer, IrType.I64);
            case "Slice":
                {
                    Value start = Coerce(Scalar(args[1]), IrType.I64);
                    Value begin = PtrAdd(pointer, Emit(new Inst(Op.Mul, IrType.I64, start, Const.Int(IrType.I64, size))));
                    return new StructValue(spanType, [begin, Coerce(Scalar(args[2]), IrType.I32)]);
                }
        }
        throw Error($"DeviceSpan.{name} is not available in kernels", "Use the indexer, Length and Slice.");
    }

    private Value AtomicCall(string name, MethodInfo method, AbstractValue[] args)
    {
        Type element = method.GetParameters()[1].ParameterType;
        MemType mem = ClrTypes.MemoryType(element)!.Value;
        IrType type = mem.RegisterType();
        Value address = AddressOf(args[0]);
        AtomicOp op = name switch
        {
            "Add" => AtomicOp.Add, "Min" => AtomicOp.Min, "Max" => AtomicOp.Max, "Exchange" => AtomicOp.Exchange,
            "CompareExchange" => AtomicOp.CompareExchange,
            _ => throw Error($"Atomic.{name} is not an atomic the compiler knows", "Use Add, Min, Max, Exchange or CompareExchange."),
        };
        Value[] operands = op == AtomicOp.CompareExchange
            ? [address, Coerce(Scalar(args[2]), type), Coerce(Scalar(args[1]), type)]
            : [address, Coerce(Scalar(args[1]), type)];
        return Emit(new Inst(Op.Atomic, type, operands) { Atomic = op, Mem = mem });
    }
}
