using System.Reflection;
using System.Reflection.Emit;
using Tessera.Engine.Compiler.IL;
using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Frontend;

/// <summary>
/// Translates a kernel's IL into SSA IR, inlining every callee. Arguments, locals and struct
/// fields are SSA variables (Braun et al.'s on-the-fly construction); evaluation-stack values
/// that cross block boundaries become phis; ldloca/ldarga become compile-time addresses.
/// </summary>
internal sealed partial class Translator
{
    private const int MaxInlineDepth = 32;

    private readonly Function _function;
    private readonly string _kernelName;
    private readonly IReadOnlyDictionary<string, object> _specialisation;
    private readonly Dictionary<Variable, Dictionary<Block, AbstractValue>> _defs = [];
    private readonly HashSet<Block> _sealed = [];
    private readonly Dictionary<Block, List<(Variable Var, Phi Phi)>> _incomplete = [];
    private readonly List<Frame> _frames = [];
    private Block _block;
    private ILInstruction? _current;

    private Translator(MethodInfo kernel, IReadOnlyDictionary<string, object> specialisation)
    {
        _kernelName = KernelNames.Of(kernel);
        _function = new Function(KernelNames.PtxName(kernel, specialisation));
        _specialisation = specialisation;
        _block = _function.NewBlock();
        Seal(_block);
    }

    public static Function Translate(MethodInfo kernel, IReadOnlyDictionary<string, object> specialisation)
    {
        var t = new Translator(kernel, specialisation);
        t.TranslateKernel(kernel);
        return t._function;
    }

    private sealed class Frame
    {
        public required MethodBase Method { get; init; }
        public required Type[]? TypeArgs { get; init; }
        public required Type[]? MethodArgs { get; init; }
        public object[] Args { get; init; } = [];
        public object[] Locals { get; init; } = [];
        public object? ReturnStorage { get; init; }
        public required Block ReturnBlock { get; init; }
        public Dictionary<ILBlock, Block> Blocks { get; } = [];
        public Dictionary<ILBlock, int> PendingPreds { get; } = [];
        public Dictionary<ILBlock, List<(Block Pred, AbstractValue[] Stack)>> Stacks { get; } = [];
    }

    private Frame Current => _frames[^1];

    private void TranslateKernel(MethodInfo kernel)
    {
        if (!kernel.IsStatic)
            Fail("the kernel is an instance method", "Make the kernel a static method.");
        if (kernel.ReturnType != typeof(void))
            Fail($"the kernel returns {kernel.ReturnType.Name}", "Kernels return void; write results into an output DeviceSpan.");
        var args = new List<AbstractValue>();
        foreach (ParameterInfo p in kernel.GetParameters())
            args.Add(KernelParameter(p));
        Block exit = _function.NewBlock();
        CallInline(kernel, args.ToArray(), exit);
        _block = exit;
        exit.Kind = TerminatorKind.Return;
        foreach (Inst i in _function.Blocks.SelectMany(b => b.Insts))
            for (int a = 0; a < i.Args.Length; a++)
                i.Args[a] = i.Args[a].Resolve();
    }

    private AbstractValue KernelParameter(ParameterInfo p)
    {
        string name = p.Name ?? $"arg{p.Position}";
        if (_specialisation.TryGetValue(name, out object? constant))
        {
            IrType? t = ClrTypes.RegisterType(p.ParameterType);
            if (t is null || t == IrType.Ptr)
                throw new KernelCompileException($"kernel '{_kernelName}': specialisation constant '{name}' has type {p.ParameterType.Name}; only numeric parameters can be specialised");
            return t.Value.IsFloat() ? Const.Float(t.Value, Convert.ToDouble(constant, System.Globalization.CultureInfo.InvariantCulture))
                : Const.Int(t.Value, Convert.ToInt64(constant, System.Globalization.CultureInfo.InvariantCulture));
        }
        return ParameterValue(p.ParameterType, name);
    }

    private AbstractValue ParameterValue(Type type, string name)
    {
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Gpu.DeviceSpan<>))
        {
            var pointer = new Param(name + "_ptr", IrType.Ptr, MemType.U64) { Space = AddressSpace.Global };
            var length = new Param(name + "_len", IrType.I32, MemType.S32);
            _function.Params.Add(pointer);
            _function.Params.Add(length);
            return new StructValue(type, [pointer, length]);
        }
        if (ClrTypes.IsStruct(type))
        {
            FieldInfo[] fields = ClrTypes.InstanceFields(type);
            return new StructValue(type, fields.Select(f => ParameterValue(f.FieldType, name + "_" + f.Name.Trim('<', '>').Replace(">k__BackingField", "", StringComparison.Ordinal))).ToArray());
        }
        MemType? mem = ClrTypes.MemoryType(type);
        IrType? reg = ClrTypes.RegisterType(type);
        if (mem is null || reg is null || reg == IrType.Pred || type.IsPointer)
            throw new KernelCompileException($"kernel '{_kernelName}': parameter '{name}' has type {type}; kernel parameters are numeric scalars, DeviceSpan<T> views and unmanaged structs of those (pass a bool as int)");
        var param = new Param(name, reg.Value, mem.Value is MemType.U8 or MemType.S8 or MemType.U16 or MemType.S16 ? MemType.S32 : mem.Value);
        _function.Params.Add(param);
        return param;
    }

    // ---- SSA construction (Braun, Buchwald, Hack, Leißa, Mallon, Zwinkau 2013) ----

    private void WriteVariable(Variable v, Block b, AbstractValue value)
    {
        if (!_defs.TryGetValue(v, out Dictionary<Block, AbstractValue>? map))
            _defs[v] = map = [];
        map[b] = value;
    }

    private AbstractValue ReadVariable(Variable v, Block b)
    {
        if (_defs.TryGetValue(v, out Dictionary<Block, AbstractValue>? map) && map.TryGetValue(b, out AbstractValue? value))
            return value is Value val ? val.Resolve() : value;
        return ReadVariableRecursive(v, b);
    }

    private AbstractValue ReadVariableRecursive(Variable v, Block b)
    {
        AbstractValue value;
        if (!_sealed.Contains(b))
        {
            var phi = new Phi(b, v.Type);
            if (!_incomplete.TryGetValue(b, out List<(Variable, Phi)>? list))
                _incomplete[b] = list = [];
            list.Add((v, phi));
            value = phi;
        }
        else if (b.Preds.Count == 0)
        {
            value = v.Type == IrType.Ptr
                ? throw Error($"the reference or pointer variable '{v.Name}' is read before it is assigned", "Assign it on every path before use.")
                : Const.Zero(v.Type);
        }
        else if (b.Preds.Count == 1)
        {
            value = ReadVariable(v, b.Preds[0]);
        }
        else
        {
            var phi = new Phi(b, v.Type);
            WriteVariable(v, b, phi);
            value = AddPhiOperands(v, phi);
        }
        WriteVariable(v, b, value);
        return value;
    }

    private AbstractValue AddPhiOperands(Variable v, Phi phi)
    {
        var operands = new List<AbstractValue>();
        foreach (Block pred in phi.Block.Preds)
            operands.Add(ReadVariable(v, pred));
        AbstractValue? same = null;
        bool trivial = true;
        foreach (AbstractValue op in operands)
        {
            if (ReferenceEquals(op, phi) || Equals(op, same))
                continue;
            if (same is not null)
            {
                trivial = false;
                break;
            }
            same = op;
        }
        if (trivial && same is not null)
        {
            if (same is Value sv)
                phi.ReplacedBy = sv;
            return same;
        }
        if (operands.Any(o => o is not Value))
            throw Error($"the variable '{v.Name}' refers to different locals on different paths", "Use the same ref target on every path, or copy the value into a plain variable.");
        for (int i = 0; i < operands.Count; i++)
            phi.Incoming.Add((phi.Block.Preds[i], CoerceIn(phi.Block.Preds[i], (Value)operands[i], v.Type)));
        if (phi.Type == IrType.Ptr)
            phi.Space = operands.Cast<Value>().Where(o => !ReferenceEquals(o, phi)).Select(o => o.Resolve().Space).Distinct().Count() == 1
                ? ((Value)same!).Resolve().Space : AddressSpace.None;
        phi.Block.Phis.Add(phi);
        return phi;
    }

    private void Seal(Block b)
    {
        if (_incomplete.Remove(b, out List<(Variable Var, Phi Phi)>? list))
            foreach ((Variable v, Phi phi) in list)
            {
                AbstractValue value = AddPhiOperands(v, phi);
                if (value is not Value && !ReferenceEquals(value, phi))
                    throw Error($"the ref variable '{v.Name}' is reassigned inside a loop", "Keep ref locals fixed inside loops.");
            }
        _sealed.Add(b);
    }

    // ---- storage of arguments and locals ----

    private object NewStorage(Type type, string name)
    {
        if (ClrTypes.IsStruct(type))
        {
            FieldInfo[] fields = ClrTypes.InstanceFields(type);
            return new StructSlots(type, fields, fields.Select(f => NewStorage(f.FieldType, name + "." + f.Name)).ToArray());
        }
        IrType? t = ClrTypes.RegisterType(type);
        if (t is null)
        {
            if (!type.IsValueType)
                return new ManagedSlot(type, name);
            throw ClassError(type, "a variable of type " + type.Name);
        }
        return new Variable(t.Value, name);
    }

    private AbstractValue ReadStorage(object storage) => storage switch
    {
        Variable v => ReadVariable(v, _block),
        ManagedSlot m => throw ClassError(m.Type, "a variable of type " + m.Type.Name),
        StructSlots s => new StructValue(s.Type, s.Members.Select(ReadStorage).ToArray()),
        _ => throw new InvalidOperationException("unknown storage"),
    };

    private void WriteStorage(object storage, AbstractValue value)
    {
        if (value is ManagedReference reference)
            throw Error($"{reference.What} is a managed object", "Kernels work on numbers, structs and DeviceSpan<T> views only.");
        switch (storage)
        {
            case ManagedSlot m:
                throw ClassError(m.Type, "a variable of type " + m.Type.Name);
            case Variable v:
                WriteVariable(v, _block, value is Value val ? Coerce(val, v.Type) : value);
                break;
            case StructSlots s when value is StructValue sv && sv.Fields.Length == s.Members.Length:
                for (int i = 0; i < s.Members.Length; i++)
                    WriteStorage(s.Members[i], sv.Fields[i]);
                break;
            default:
                throw Error($"a value of the wrong shape was stored into a {((StructSlots)storage).Type.Name}", "Store values of the declared type only.");
        }
    }

    private void ZeroStorage(object storage)
    {
        if (storage is ManagedSlot)
            return;
        if (storage is Variable v)
        {
            if (v.Type != IrType.Ptr)
                WriteVariable(v, _block, Const.Zero(v.Type));
            return;
        }
        foreach (object m in ((StructSlots)storage).Members)
            ZeroStorage(m);
    }

    // ---- blocks and edges ----

    private void Branch(Block from, Block to)
    {
        from.Kind = TerminatorKind.Branch;
        from.Targets = [to];
        Function.AddEdge(from, to);
    }

    private Inst Emit(Inst inst)
    {
        inst.Block = _block;
        _block.Insts.Add(inst);
        return inst;
    }

    // ---- errors ----

    private KernelCompileException Error(string problem, string advice, string? opcode = null)
    {
        string method = _frames.Count > 0 ? $"{Current.Method.DeclaringType?.Name}.{Current.Method.Name}" : _kernelName;
        return new KernelCompileException(_kernelName, method, _current?.Offset ?? 0, opcode ?? _current?.OpCode.Name ?? "(entry)", problem, advice);
    }

    private void Fail(string problem, string advice) => throw Error(problem, advice);

    private KernelCompileException ClassError(Type type, string what)
    {
        if (type.Name.Contains("DisplayClass", StringComparison.Ordinal) || type.Name.Contains("<>c", StringComparison.Ordinal))
            return Error($"{what} is a lambda closure (the compiler-generated class {type.Name}); closures are heap objects",
                "Pass the captured values as kernel parameters and write the function as a struct implementing IUnaryOp<T>/IBinaryOp<T>.");
        return Error($"{what} uses the class type {type.FullName}; classes live on the managed heap, which kernels cannot reach",
            "Use unmanaged structs, scalars and DeviceSpan<T> views instead.");
    }
}
