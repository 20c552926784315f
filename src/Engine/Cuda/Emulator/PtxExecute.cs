namespace Tessera.Engine.Cuda.Emulator;

/// <summary>Instruction semantics, following the PTX ISA for the types the compiler emits.</summary>
internal sealed partial class PtxInterpreter
{
    /// <summary>Instructions a thread runs before the scheduler moves on to the next thread.</summary>
    private const int TimeSlice = 1 << 16;

    private void Execute(EmulatedThread t)
    {
        List<PInstruction> code = _kernel.Code;
        ulong[] r = t.Registers;
        // Shuffled runs also cut threads at random points, so unsynchronised read-modify-writes interleave.
        int slice = _shuffle is null ? TimeSlice : _shuffle.Next(1, 48);
        for (int budget = slice; budget > 0; budget--)
        {
            PInstruction ins = code[t.Pc];
            if (ins.Guard >= 0 && (r[ins.Guard] != 0) == ins.GuardNegated)
            {
                t.Pc++;
                continue;
            }
            try
            {
                switch (ins.Kind)
                {
                    case PKind.Bra:
                        t.Pc = ins.Target;
                        continue;
                    case PKind.Ret:
                        t.Status = ThreadStatus.Exited;
                        return;
                    case PKind.Bar:
                        t.Pc++;
                        t.Status = ThreadStatus.AtBarrier;
                        return;
                    case PKind.Shfl:
                        t.Status = ThreadStatus.AtShuffle;
                        return;
                    case PKind.Membar:
                        break;
                    case PKind.Ld:
                        r[ins.Dest.Register] = Load(t, ins);
                        break;
                    case PKind.St:
                        Store(t, ins);
                        break;
                    case PKind.Atom:
                        r[ins.Dest.Register] = AtomicOp(t, ins);
                        break;
                    default:
                        r[ins.Dest.Register] = Compute(t, ins);
                        break;
                }
            }
            catch (PtxEmulatorException e)
            {
                throw Fault(t, e.Message, e);
            }
            t.Pc++;
        }
    }

    private ulong Read(EmulatedThread t, POperand o) => o.Kind switch
    {
        OperandKind.Register => t.Registers[o.Register],
        OperandKind.Immediate => o.Bits,
        OperandKind.Special => Special(t, o.Register),
        _ => Symbol(o.Symbol!),
    };

    private ulong Special(EmulatedThread t, int index) => index switch
    {
        0 => (ulong)t.X, 1 => (ulong)t.Y, 2 => (ulong)t.Z,
        3 => (ulong)_block.X, 4 => (ulong)_block.Y, 5 => (ulong)_block.Z,
        6 => (ulong)_blockX, 7 => (ulong)_blockY, 8 => (ulong)_blockZ,
        9 => (ulong)_grid.X, 10 => (ulong)_grid.Y, 11 => (ulong)_grid.Z,
        12 => (ulong)t.Lane,
        _ => (ulong)_dynamicShared,
    };

    /// <summary>The address of a shared or local variable (dynamic shared memory follows the static variables).</summary>
    private ulong Symbol(string name) => _variables.TryGetValue(name, out PVariable? v)
        ? v.Offset < 0 ? (ulong)_kernel.StaticSharedBytes : (ulong)v.Offset
        : throw new PtxEmulatorException($"unknown symbol '{name}'");

    private Span<byte> Memory(EmulatedThread t, PSpace space, ulong address, int size, string access)
    {
        switch (space)
        {
            case PSpace.Global:
                return _memory.Span(address, size, access + " global memory");
            case PSpace.Shared:
                if (address + (ulong)size > (ulong)_shared.Length)
                    throw new PtxEmulatorException($"{access} shared memory out of bounds: bytes [{address}, {address + (ulong)size}) of {_shared.Length}");
                return _shared.AsSpan((int)address, size);
            case PSpace.Local:
                if (t.Local is null || address + (ulong)size > (ulong)t.Local.Length)
                    throw new PtxEmulatorException($"{access} local memory out of bounds: bytes [{address}, {address + (ulong)size}) of {t.Local?.Length ?? 0}");
                return t.Local.AsSpan((int)address, size);
            default:
                // Generic address: the top two bits say which window it came from (see ToOrFromGeneric).
                return (address >> 62) switch
                {
                    1 => Memory(t, PSpace.Shared, address & WindowMask, size, access),
                    2 => Memory(t, PSpace.Local, address & WindowMask, size, access),
                    _ => Memory(t, PSpace.Global, address, size, access),
                };
        }
    }

    private const ulong WindowMask = (1UL << 62) - 1;

    /// <summary>
    /// cvta: shared and local addresses become generic by tagging their top bits (global addresses
    /// are generic already); cvta.to strips the tag again.
    /// </summary>
    private static ulong ToOrFromGeneric(PInstruction ins, ulong address)
    {
        if (ins.Modifier == "to")
            return ins.Space == PSpace.Global ? address : address & WindowMask;
        return ins.Space switch
        {
            PSpace.Shared => address | (1UL << 62),
            PSpace.Local => address | (2UL << 62),
            _ => address,
        };
    }

    private ulong Load(EmulatedThread t, PInstruction ins)
    {
        int size = ins.Type.Size();
        ReadOnlySpan<byte> bytes;
        if (ins.Space == PSpace.Param)
        {
            if (ins.SymbolIndex < 0)
                ins.SymbolIndex = (_kernel.Params.Find(x => x.Name == ins.Sources[0].Symbol)
                    ?? throw new PtxEmulatorException($"unknown parameter '{ins.Sources[0].Symbol}'")).Offset;
            bytes = _params.AsSpan(ins.SymbolIndex, size);
        }
        else
        {
            bytes = Memory(t, ins.Space, Read(t, ins.Sources[0]), size, "load from");
        }
        ulong raw = 0;
        for (int i = size - 1; i >= 0; i--)
            raw = raw << 8 | bytes[i];
        return ins.Type switch
        {
            PType.S8 => (uint)(sbyte)raw,
            PType.S16 => (uint)(short)raw,
            _ => raw,
        };
    }

    private void Store(EmulatedThread t, PInstruction ins)
    {
        int size = ins.Type.Size();
        Span<byte> bytes = Memory(t, ins.Space, Read(t, ins.Sources[0]), size, "store to");
        ulong value = Read(t, ins.Sources[1]);
        for (int i = 0; i < size; i++, value >>= 8)
            bytes[i] = (byte)value;
    }

    private ulong AtomicOp(EmulatedThread t, PInstruction ins)
    {
        int size = ins.Type.Size();
        Span<byte> bytes = Memory(t, ins.Space, Read(t, ins.Sources[0]), size, "atomic on");
        ulong old = size == 4 ? BitConverter.ToUInt32(bytes) : BitConverter.ToUInt64(bytes);
        ulong b = Read(t, ins.Sources[1]);
        ulong result = ins.Modifier switch
        {
            "exch" => b,
            "cas" => old == (size == 4 ? (uint)b : b) ? Read(t, ins.Sources[2]) : old,
            "add" => Arithmetic(PKind.Add, ins.Type, old, b),
            "min" => Arithmetic(PKind.Min, ins.Type, old, b),
            _ => Arithmetic(PKind.Max, ins.Type, old, b),
        };
        if (size == 4)
            BitConverter.TryWriteBytes(bytes, (uint)result);
        else
            BitConverter.TryWriteBytes(bytes, result);
        return old;
    }
}
