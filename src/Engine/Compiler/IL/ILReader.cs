using System.Buffers.Binary;
using System.Reflection;
using System.Reflection.Emit;

namespace Tessera.Engine.Compiler.IL;

/// <summary>One decoded IL instruction. <see cref="Operand"/> holds the immediate (int, long, float, double, token) or branch target offsets.</summary>
internal sealed record ILInstruction(int Offset, int Size, OpCode OpCode, object? Operand)
{
    public int Next => Offset + Size;

    public int Int => Operand is int i ? i : throw new InvalidOperationException($"IL_{Offset:x4} {OpCode.Name} has no int operand");

    public int[] Targets => OpCode.OperandType == OperandType.InlineSwitch ? (int[])Operand! : [(int)Operand!];

    public override string ToString() => $"IL_{Offset:x4}: {OpCode.Name}";
}

/// <summary>Decodes method body bytes with an opcode table built from <see cref="OpCodes"/>.</summary>
internal static class ILReader
{
    private static readonly Dictionary<short, OpCode> s_opCodes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    public static List<ILInstruction> Decode(byte[] il, string methodName)
    {
        var list = new List<ILInstruction>();
        int pos = 0;
        while (pos < il.Length)
        {
            int start = pos;
            short value = il[pos++];
            if (value == 0xFE)
                value = unchecked((short)(0xFE00 | il[pos++]));
            if (!s_opCodes.TryGetValue(value, out OpCode op))
                throw new InvalidProgramException($"{methodName}: unknown IL opcode 0x{value:x} at IL_{start:x4}");
            object? operand;
            ReadOnlySpan<byte> s = il.AsSpan();
            switch (op.OperandType)
            {
                case OperandType.InlineNone: operand = null; break;
                case OperandType.ShortInlineBrTarget: operand = pos + 1 + (sbyte)il[pos]; pos += 1; break;
                case OperandType.ShortInlineI: operand = op == OpCodes.Ldc_I4_S ? (int)(sbyte)il[pos] : (int)il[pos]; pos += 1; break;
                case OperandType.ShortInlineVar: operand = (int)il[pos]; pos += 1; break;
                case OperandType.InlineVar: operand = (int)BinaryPrimitives.ReadUInt16LittleEndian(s[pos..]); pos += 2; break;
                case OperandType.InlineBrTarget: operand = pos + 4 + BinaryPrimitives.ReadInt32LittleEndian(s[pos..]); pos += 4; break;
                case OperandType.InlineI8: operand = BinaryPrimitives.ReadInt64LittleEndian(s[pos..]); pos += 8; break;
                case OperandType.InlineR: operand = BinaryPrimitives.ReadDoubleLittleEndian(s[pos..]); pos += 8; break;
                case OperandType.ShortInlineR: operand = BinaryPrimitives.ReadSingleLittleEndian(s[pos..]); pos += 4; break;
                case OperandType.InlineSwitch:
                    {
                        int count = BinaryPrimitives.ReadInt32LittleEndian(s[pos..]);
                        pos += 4;
                        int baseOffset = pos + 4 * count;
                        var targets = new int[count];
                        for (int i = 0; i < count; i++)
                            targets[i] = baseOffset + BinaryPrimitives.ReadInt32LittleEndian(s[(pos + 4 * i)..]);
                        pos = baseOffset;
                        operand = targets;
                        break;
                    }
                default: operand = BinaryPrimitives.ReadInt32LittleEndian(s[pos..]); pos += 4; break;
            }
            list.Add(new ILInstruction(start, pos - start, op, operand));
        }
        return list;
    }

    public static bool IsBranch(OpCode op) => op.FlowControl is FlowControl.Branch or FlowControl.Cond_Branch;

    public static bool EndsBlock(OpCode op) => op.FlowControl is FlowControl.Branch or FlowControl.Cond_Branch or FlowControl.Return or FlowControl.Throw;
}

/// <summary>An IL basic block: a run of instructions between leaders.</summary>
internal sealed class ILBlock
{
    public required int Index { get; init; }
    public required int Start { get; init; }
    public List<ILInstruction> Instructions { get; } = [];
    public List<ILBlock> Successors { get; } = [];
    public List<ILBlock> Predecessors { get; } = [];
    public bool Reachable { get; set; }
    public int EntryStackDepth { get; set; } = -1;
}

/// <summary>The control-flow graph of one method body: leaders at branch targets and after branches.</summary>
internal static class ILGraph
{
    public static List<ILBlock> Build(List<ILInstruction> code)
    {
        var leaders = new SortedSet<int> { 0 };
        foreach (ILInstruction ins in code)
        {
            if (ILReader.IsBranch(ins.OpCode))
                foreach (int t in ins.Targets)
                    leaders.Add(t);
            if (ILReader.EndsBlock(ins.OpCode) || ins.OpCode.OperandType == OperandType.InlineSwitch)
                leaders.Add(ins.Next);
        }
        var blocks = new List<ILBlock>();
        var byStart = new Dictionary<int, ILBlock>();
        foreach (ILInstruction ins in code)
        {
            if (leaders.Contains(ins.Offset))
            {
                var b = new ILBlock { Index = blocks.Count, Start = ins.Offset };
                blocks.Add(b);
                byStart[ins.Offset] = b;
            }
            blocks[^1].Instructions.Add(ins);
        }
        for (int i = 0; i < blocks.Count; i++)
        {
            ILBlock b = blocks[i];
            ILInstruction last = b.Instructions[^1];
            if (ILReader.IsBranch(last.OpCode) || last.OpCode == OpCodes.Switch)
                foreach (int t in last.Targets)
                    b.Successors.Add(byStart[t]);
            bool fallsThrough = last.OpCode.FlowControl is not (FlowControl.Branch or FlowControl.Return or FlowControl.Throw);
            if (fallsThrough && i + 1 < blocks.Count)
                b.Successors.Insert(ILReader.IsBranch(last.OpCode) || last.OpCode == OpCodes.Switch ? b.Successors.Count : 0, blocks[i + 1]);
        }
        var stack = new Stack<ILBlock>();
        blocks[0].Reachable = true;
        stack.Push(blocks[0]);
        while (stack.Count > 0)
            foreach (ILBlock s in stack.Pop().Successors)
                if (!s.Reachable)
                {
                    s.Reachable = true;
                    stack.Push(s);
                }
        foreach (ILBlock b in blocks.Where(b => b.Reachable))
            foreach (ILBlock s in b.Successors)
                s.Predecessors.Add(b);
        return blocks;
    }
}
