using System.Reflection;
using System.Reflection.Emit;
using Tessera.Engine.Compiler.IL;
using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Frontend;

internal sealed partial class Translator
{
    /// <summary>Inlines <paramref name="method"/> at the current block and returns its result (null for void).</summary>
    private AbstractValue? CallInline(MethodBase method, AbstractValue[] args, Block? exit = null)
    {
        string name = $"{method.DeclaringType?.Name}.{method.Name}";
        if (_frames.Count >= MaxInlineDepth || _frames.Any(f => f.Method.Equals(method)))
            Fail($"{name} calls itself (directly or indirectly)", "Kernels inline every call, so recursion is not possible; write it as a loop.");
        MethodBody body = method.GetMethodBody()
            ?? throw Error($"{name} has no IL body (extern, abstract or an intrinsic the compiler does not know)", "Call only C# methods with bodies, or the intrinsics in Tessera.Engine.Gpu.");
        if (body.ExceptionHandlingClauses.Count > 0)
        {
            _current = new ILInstruction(body.ExceptionHandlingClauses[0].TryOffset, 0, OpCodes.Nop, null);
            throw Error($"{name} has a try/catch/finally block (a 'using', 'lock' or 'foreach' over a class also makes one)",
                "Kernels cannot handle exceptions; remove the try block.", ".try");
        }
        List<ILInstruction> code = ILReader.Decode(body.GetILAsByteArray()!, name);
        List<ILBlock> ilBlocks = ILGraph.Build(code);
        Type returnType = method is MethodInfo mi ? mi.ReturnType : typeof(void);
        ParameterInfo[] ps = method.GetParameters();
        var argTypes = new List<Type>();
        if (!method.IsStatic)
            argTypes.Add(method.DeclaringType!.MakeByRefType());
        argTypes.AddRange(ps.Select(p => p.ParameterType));
        if (argTypes.Count != args.Length)
            throw new InvalidOperationException($"{name}: {args.Length} arguments for {argTypes.Count} parameters");
        foreach (LocalVariableInfo local in body.LocalVariables)
            if (local.IsPinned)
                Fail($"{name} pins memory with 'fixed'", "Use DeviceSpan<T> views; there is nothing to pin on the device.");
        var frame = new Frame
        {
            Method = method,
            TypeArgs = method.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null,
            MethodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null,
            Args = argTypes.Select((t, i) => NewStorage(t, $"{method.Name}.A{i}")).ToArray(),
            Locals = body.LocalVariables.Select(l => NewStorage(l.LocalType, $"{method.Name}.V{l.LocalIndex}")).ToArray(),
            ReturnStorage = returnType == typeof(void) ? null : NewStorage(returnType, $"{method.Name}.ret"),
            ReturnBlock = exit ?? _function.NewBlock(),
        };
        for (int i = 0; i < args.Length; i++)
            WriteStorage(frame.Args[i], CoerceArgument(args[i], argTypes[i]));
        ILInstruction? caller = _current;
        _frames.Add(frame);
        foreach (ILBlock b in ilBlocks.Where(b => b.Reachable))
        {
            frame.Blocks[b] = _function.NewBlock();
            frame.PendingPreds[b] = b.Predecessors.Count + (b.Index == 0 ? 1 : 0);
        }
        Branch(_block, frame.Blocks[ilBlocks[0]]);
        EdgeArrived(ilBlocks[0]);
        foreach (ILBlock b in ilBlocks.Where(b => b.Reachable))
            TranslateBlock(b, ilBlocks);
        _frames.RemoveAt(_frames.Count - 1);
        _current = caller;
        Seal(frame.ReturnBlock);
        _block = frame.ReturnBlock;
        return frame.ReturnStorage is null ? null : ReadStorage(frame.ReturnStorage);
    }

    private AbstractValue CoerceArgument(AbstractValue value, Type type)
    {
        if (value is Value v && ClrTypes.RegisterType(type) is IrType t && t != IrType.Ptr)
            return Coerce(v, t);
        return value;
    }

    private void EdgeArrived(ILBlock target)
    {
        Frame f = Current;
        if (--f.PendingPreds[target] == 0)
            Seal(f.Blocks[target]);
    }

    private void FlowTo(ILBlock target, List<AbstractValue> stack)
    {
        if (stack.Count > 0)
        {
            if (!Current.Stacks.TryGetValue(target, out List<(Block, AbstractValue[])>? list))
                Current.Stacks[target] = list = [];
            list.Add((_block, stack.ToArray()));
        }
        EdgeArrived(target);
    }

    private void TranslateBlock(ILBlock b, List<ILBlock> all)
    {
        Frame f = Current;
        _block = f.Blocks[b];
        var stack = new List<AbstractValue>();
        if (f.Stacks.TryGetValue(b, out List<(Block Pred, AbstractValue[] Stack)>? incoming))
        {
            if (incoming.Count != _block.Preds.Count)
            {
                _current = b.Instructions[0];
                Fail("a value stays on the evaluation stack across a loop back edge", "Store it in a local variable before the loop.");
            }
            for (int i = 0; i < incoming[0].Stack.Length; i++)
            {
                AbstractValue first = incoming[0].Stack[i];
                if (incoming.All(x => Equals(x.Stack[i], first)))
                {
                    stack.Add(first);
                    continue;
                }
                if (incoming.Any(x => x.Stack[i] is not Value))
                    Fail("a conditional expression selects between references or structs", "Write it as an if/else that assigns a plain variable.");
                IrType type = Unify(incoming.Select(x => ((Value)x.Stack[i]).Type));
                var phi = new Phi(_block, type);
                foreach ((Block pred, AbstractValue[] s) in incoming)
                    phi.Incoming.Add((pred, CoerceIn(pred, (Value)s[i], type)));
                if (type == IrType.Ptr)
                    phi.Space = incoming.Select(x => ((Value)x.Stack[i]).Space).Distinct().Count() == 1 ? ((Value)first).Space : AddressSpace.None;
                _block.Phis.Add(phi);
                stack.Add(phi);
            }
        }
        foreach (ILInstruction ins in b.Instructions)
        {
            _current = ins;
            TranslateInstruction(ins, stack);
        }
        ILInstruction last = b.Instructions[^1];
        if (last.OpCode.FlowControl is FlowControl.Next or FlowControl.Call or FlowControl.Meta or FlowControl.Break)
        {
            ILBlock next = all[b.Index + 1];
            Branch(_block, f.Blocks[next]);
            FlowTo(next, stack);
        }
    }

    /// <summary>Converts <paramref name="v"/> at the end of <paramref name="block"/> (a predecessor feeding a phi).</summary>
    private Value CoerceIn(Block block, Value v, IrType type)
    {
        if (v.Type == type)
            return v;
        Block saved = _block;
        _block = block;
        Value result = Coerce(v, type);
        _block = saved;
        return result;
    }

    private static IrType Unify(IEnumerable<IrType> types)
    {
        IrType[] all = types.Distinct().ToArray();
        if (all.Length == 1)
            return all[0];
        if (all.Contains(IrType.F64))
            return IrType.F64;
        if (all.Contains(IrType.F32))
            return IrType.F32;
        if (all.Contains(IrType.Ptr))
            return IrType.Ptr;
        return all.Contains(IrType.I64) ? IrType.I64 : IrType.I32;
    }

    private void ConditionalBranch(Value condition, ILInstruction ins, List<AbstractValue> stack)
    {
        Frame f = Current;
        ILBlock taken = f.Blocks.Keys.First(k => k.Start == ins.Targets[0]);
        ILBlock fallthrough = f.Blocks.Keys.First(k => k.Start == ins.Next);
        if (taken == fallthrough)
        {
            // A branch to the next instruction (an empty if body): both ways lead to the same block.
            UnconditionalBranch(ins, stack);
            return;
        }
        Block block = _block;
        block.Kind = TerminatorKind.CondBranch;
        block.Condition = AsPred(condition);
        block.Targets = [f.Blocks[taken], f.Blocks[fallthrough]];
        Function.AddEdge(block, f.Blocks[taken]);
        Function.AddEdge(block, f.Blocks[fallthrough]);
        FlowTo(taken, stack);
        FlowTo(fallthrough, stack);
    }

    /// <summary>A jump table becomes a chain of equality tests (the default is the fall-through).</summary>
    private void Switch(ILInstruction ins, Value selector, List<AbstractValue> stack)
    {
        Frame f = Current;
        Value value = Coerce(selector, IrType.I32);
        int[] targets = ins.Targets;
        for (int k = 0; k < targets.Length; k++)
        {
            ILBlock target = f.Blocks.Keys.First(b => b.Start == targets[k]);
            Block next = _function.NewBlock();
            Block block = _block;
            block.Kind = TerminatorKind.CondBranch;
            block.Condition = Compare(CmpKind.Eq, value, Const.Int(IrType.I32, k), false, false);
            block.Targets = [f.Blocks[target], next];
            Function.AddEdge(block, f.Blocks[target]);
            Function.AddEdge(block, next);
            FlowTo(target, stack);
            Seal(next);
            _block = next;
        }
        ILBlock fallthrough = f.Blocks.Keys.First(b => b.Start == ins.Next);
        Branch(_block, f.Blocks[fallthrough]);
        FlowTo(fallthrough, stack);
    }

    private void UnconditionalBranch(ILInstruction ins, List<AbstractValue> stack)
    {
        Frame f = Current;
        ILBlock target = f.Blocks.Keys.First(k => k.Start == ins.Targets[0]);
        Branch(_block, f.Blocks[target]);
        FlowTo(target, stack);
    }

    private void Return(List<AbstractValue> stack)
    {
        Frame f = Current;
        if (f.ReturnStorage is not null)
            WriteStorage(f.ReturnStorage, CoerceArgument(Pop(stack), ((MethodInfo)f.Method).ReturnType));
        Branch(_block, f.ReturnBlock);
    }
}
