using System.Globalization;

namespace Tessera.Engine.Compiler.IR;

/// <summary>Anything the IL translator keeps on its evaluation stack or in a variable.</summary>
internal abstract class AbstractValue
{
}

/// <summary>An SSA value: a constant, a kernel parameter, an instruction result or a phi.</summary>
internal abstract class Value : AbstractValue
{
    protected Value(IrType type) => Type = type;

    public IrType Type { get; set; }

    /// <summary>For pointers: the state space the address belongs to.</summary>
    public AddressSpace Space { get; set; }

    /// <summary>Set when this value was found equal to another one (trivial phis, folding).</summary>
    public Value? ReplacedBy { get; set; }

    public Value Resolve()
    {
        Value v = this;
        while (v.ReplacedBy is not null)
            v = v.ReplacedBy;
        return v;
    }
}

internal sealed class Const : Value
{
    private Const(IrType type, long bits, double real) : base(type)
    {
        Bits = bits;
        Real = real;
    }

    /// <summary>Integer value (sign-extended for I32); 0/1 for predicates.</summary>
    public long Bits { get; }

    /// <summary>Floating value (already rounded to f32 for F32).</summary>
    public double Real { get; }

    public static Const Int(IrType type, long value) => type switch
    {
        IrType.I32 => new Const(type, (int)value, 0),
        IrType.Pred => new Const(type, value != 0 ? 1 : 0, 0),
        IrType.F32 or IrType.F64 => Float(type, value),
        _ => new Const(type, value, 0),
    };

    public static Const Float(IrType type, double value) => type == IrType.F32
        ? new Const(type, 0, (float)value)
        : type == IrType.F64 ? new Const(type, 0, value) : Int(type, (long)value);

    public static Const Zero(IrType type) => type.IsFloat() ? Float(type, 0) : Int(type, 0);

    public bool IsZero => Type.IsFloat() ? Real == 0 : Bits == 0;

    public override string ToString() => Type.IsFloat() ? Real.ToString("R", CultureInfo.InvariantCulture) : Bits.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One scalar kernel parameter (views contribute two).</summary>
internal sealed class Param : Value
{
    public Param(string name, IrType type, MemType paramType) : base(type)
    {
        Name = name;
        ParamType = paramType;
    }

    public string Name { get; }

    public MemType ParamType { get; }
}

internal sealed class Inst : Value
{
    public Inst(Op op, IrType type, params Value[] args) : base(type)
    {
        Op = op;
        Args = args;
    }

    public Op Op { get; }

    public Value[] Args { get; }

    public Block? Block { get; set; }

    /// <summary>Unsigned integer semantics (div, rem, shr, cmp, convert from/to).</summary>
    public bool Unsigned { get; init; }

    /// <summary>Float comparison that is also true when an operand is NaN.</summary>
    public bool Unordered { get; init; }

    public CmpKind Cmp { get; init; }

    public MemType Mem { get; init; }

    public SpecialReg Special { get; init; }

    public ShuffleMode Shuffle { get; init; }

    public AtomicOp Atomic { get; init; }

    public FenceScope Fence { get; init; }

    /// <summary>Convert: whether the source integer is unsigned.</summary>
    public bool SourceUnsigned { get; init; }

    /// <summary>SharedBase/LocalBase: which allocation.</summary>
    public int Symbol { get; init; }

    /// <summary>A copy with other operands (for loop unrolling).</summary>
    public Inst Clone(Value[] args) => new(Op, Type, args)
    {
        Space = Space,
        Unsigned = Unsigned,
        Unordered = Unordered,
        Cmp = Cmp,
        Mem = Mem,
        Special = Special,
        Shuffle = Shuffle,
        Atomic = Atomic,
        Fence = Fence,
        SourceUnsigned = SourceUnsigned,
        Symbol = Symbol,
    };

    public bool HasSideEffects => Op is Op.Store or Op.Barrier or Op.Fence or Op.Atomic or Op.Shuffle or Op.Mma;

    public bool IsPure => !HasSideEffects && Op != Op.Load;
}

internal sealed class Phi : Value
{
    public Phi(Block block, IrType type) : base(type) => Block = block;

    public Block Block { get; set; }

    public List<(Block Pred, Value Value)> Incoming { get; } = [];
}

internal enum TerminatorKind { None, Branch, CondBranch, Return }

internal sealed class Block
{
    public Block(int id) => Id = id;

    public int Id { get; }

    public List<Phi> Phis { get; } = [];

    public List<Inst> Insts { get; } = [];

    public List<Block> Preds { get; } = [];

    public TerminatorKind Kind { get; set; }

    public Value? Condition { get; set; }

    /// <summary>Branch: [target]; CondBranch: [ifTrue, ifFalse].</summary>
    public Block[] Targets { get; set; } = [];

    public override string ToString() => $"B{Id}";
}

/// <summary>A static shared or per-thread local allocation.</summary>
internal sealed record MemoryAllocation(string Name, int Bytes, int Alignment, MemType Element);

/// <summary>A kernel in SSA form: blocks (entry first), scalar parameters and memory allocations.</summary>
internal sealed class Function
{
    private int _nextBlock;

    public Function(string name) => Name = name;

    public string Name { get; }

    public List<Block> Blocks { get; } = [];

    public List<Param> Params { get; } = [];

    public List<MemoryAllocation> SharedAllocations { get; } = [];

    public List<MemoryAllocation> LocalAllocations { get; } = [];

    public bool UsesDynamicShared { get; set; }

    public Block Entry => Blocks[0];

    public Block NewBlock()
    {
        var b = new Block(_nextBlock++);
        Blocks.Add(b);
        return b;
    }

    public static void AddEdge(Block from, Block to) => to.Preds.Add(from);
}
