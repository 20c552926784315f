namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Turns a parsed kernel into a <see cref="PtxProgram"/> once, at its first launch: operation and
/// type resolved into one <see cref="XOp"/>, every operand resolved into a register of the warp
/// register file (immediates and symbol addresses become constant registers), parameter offsets
/// resolved, so executing an instruction reads no strings and no dictionaries.
/// </summary>
internal static class PtxDecoder
{
    public static PtxProgram Decode(PKernel kernel)
    {
        try
        {
            return DecodeChecked(kernel);
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentException or ArithmeticException or InvalidOperationException or KeyNotFoundException)
        {
            // Parsed PTX whose instructions lack operands or branch outside the kernel: a clear rejection, not a crash.
            throw new PtxEmulatorException($"{kernel.Name}: the kernel's instructions cannot be decoded ({e.Message}); the emulator runs the PTX subset Tessera's compiler emits", e);
        }
    }

    private static PtxProgram DecodeChecked(PKernel kernel)
    {
        var constants = new List<ulong>();
        var constantIndex = new Dictionary<ulong, int>();
        var lists = new List<int>();
        int constantBase = kernel.RegisterCount + PtxProgram.SpecialCount;
        var variables = kernel.Variables.ToDictionary(v => v.Name, StringComparer.Ordinal);
        bool globalAtomics = false;
        var parameters = new List<(int Offset, int Size, bool SignExtend)>();

        int Constant(ulong bits)
        {
            if (!constantIndex.TryGetValue(bits, out int at))
            {
                at = constants.Count;
                constants.Add(bits);
                constantIndex[bits] = at;
            }
            return (constantBase + at) * 32;
        }

        int Operand(PInstruction ins, POperand o, bool narrow)
        {
            switch (o.Kind)
            {
                case OperandKind.Register:
                    return o.Register * 32;
                case OperandKind.Special:
                    return (kernel.RegisterCount + o.Register) * 32;
                case OperandKind.Immediate:
                    // 32-bit registers hold zero-extended values; immediates of 32-bit operations are truncated alike.
                    return Constant(narrow ? (uint)o.Bits : o.Bits);
                case OperandKind.Symbol:
                    return variables.TryGetValue(o.Symbol!, out PVariable? v)
                        ? Constant(v.Offset < 0 ? (ulong)kernel.StaticSharedBytes : (ulong)v.Offset + o.Bits)
                        : throw new PtxEmulatorException($"{kernel.Name}: unknown symbol '{o.Symbol}' in '{ins.Text}'");
                default:
                    return -1;
            }
        }

        var code = new XInst[kernel.Code.Count];
        for (int pc = 0; pc < code.Length; pc++)
        {
            PInstruction ins = kernel.Code[pc];
            bool narrow = ins.Type.Size() <= 4;
            POperand[] s = ins.Sources;
            var x = new XInst
            {
                Op = Select(ins),
                Space = ins.Space,
                Size = (byte)ins.Type.Size(),
                SignExtend = ins.Type is PType.S8 or PType.S16,
                Guard = ins.Guard >= 0 ? ins.Guard * 32 : -1,
                GuardNegated = ins.GuardNegated,
                D = ins.Dest.Kind == OperandKind.Register ? ins.Dest.Register * 32 : -1,
                Target = ins.Target,
                A = -1, B = -1, C = -1, List = -1,
            };
            if (ins.Kind == PKind.Ld && ins.Space == PSpace.Param)
            {
                PParam param = kernel.Params.Find(p => p.Name == s[0].Symbol)
                    ?? throw new PtxEmulatorException($"{kernel.Name}: unknown parameter '{s[0].Symbol}' in '{ins.Text}'");
                int field = (int)s[0].Bits; // [blob+offset]
                if (field + ins.Type.Size() > param.Size)
                    throw new PtxEmulatorException($"{kernel.Name}: '{ins.Text}' reads bytes [{field}, {field + ins.Type.Size()}) of parameter '{param.Name}', which has {param.Size}");
                var read = (param.Offset + field, ins.Type.Size(), x.SignExtend);
                int slot = parameters.IndexOf(read);
                if (slot < 0)
                {
                    slot = parameters.Count;
                    parameters.Add(read);
                }
                x.Op = XOp.Mov;
                x.Target = slot; // resolved to a register below, once the constants are counted
            }
            else if (ins.Kind == PKind.Mma)
            {
                x.List = lists.Count;
                foreach (POperand o in ins.Fragments)
                    lists.Add(Operand(ins, o, narrow: true));
            }
            else
            {
                // Shift amounts, selp predicates and shuffle operands are 32-bit whatever the instruction type.
                x.A = s.Length > 0 ? Operand(ins, s[0], narrow) : -1;
                x.B = s.Length > 1 ? Operand(ins, s[1], narrow || ins.Kind is PKind.Shl or PKind.Shr) : -1;
                // mad.wide adds a register of twice the operand width.
                x.C = s.Length > 2 ? Operand(ins, s[2], (narrow && ins.Modifier != "wide") || ins.Kind == PKind.Selp) : -1;
                x.NegateB = s.Length > 1 && s[1].Kind == OperandKind.Register && s[1].Bits == 1;
            }
            if (ins.Kind == PKind.Setp)
                x.Cmp = Comparison(ins, kernel);
            if (ins.Kind == PKind.Setp && x.Op == XOp.SetpInt)
                x.Size = (byte)(ins.Type.Size() * 8);
            if (ins.Kind == PKind.Atom && ins.Space is PSpace.Global or PSpace.None)
                globalAtomics = true;
            code[pc] = x;
        }
        int parameterBase = constantBase + constants.Count;
        for (int pc = 0; pc < code.Length; pc++)
            if (kernel.Code[pc].Kind == PKind.Ld && kernel.Code[pc].Space == PSpace.Param)
                code[pc].A = (parameterBase + code[pc].Target) * 32;
        return new PtxProgram
        {
            Code = code,
            Parameters = [.. parameters],
            Constants = [.. constants],
            Lists = [.. lists],
            RegisterCount = kernel.RegisterCount,
            HasGlobalAtomics = globalAtomics,
            ReadBeforeWrite = ReadBeforeWrite(kernel),
        };
    }

    /// <summary>
    /// Registers some path may read before writing them (forward "definitely assigned" dataflow;
    /// a guarded write assigns nothing for sure). Only these are cleared per block: the compiler's
    /// SSA output writes every other register before reading it, so clearing them could not change
    /// a result.
    /// </summary>
    private static int[] ReadBeforeWrite(PKernel kernel)
    {
        List<PInstruction> code = kernel.Code;
        int words = (kernel.RegisterCount + 63) / 64;
        if (code.Count == 0 || words == 0)
            return [];
        var assigned = new ulong[code.Count][];
        for (int pc = 0; pc < code.Count; pc++)
            assigned[pc] = Enumerable.Repeat(ulong.MaxValue, words).ToArray();
        Array.Clear(assigned[0]);
        var work = new Stack<int>();
        work.Push(0);
        var output = new ulong[words];
        while (work.Count > 0)
        {
            int pc = work.Pop();
            PInstruction ins = code[pc];
            assigned[pc].CopyTo(output, 0);
            if (ins.Guard < 0)
                foreach (int r in Writes(ins))
                    output[r >> 6] |= 1UL << r;
            foreach (int next in Successors(ins, pc, code.Count))
            {
                bool changed = false;
                ulong[] into = assigned[next];
                for (int i = 0; i < words; i++)
                {
                    ulong v = into[i] & output[i];
                    changed |= v != into[i];
                    into[i] = v;
                }
                if (changed)
                    work.Push(next);
            }
        }
        var read = new SortedSet<int>();
        for (int pc = 0; pc < code.Count; pc++)
            foreach (int r in Reads(code[pc]))
                if ((assigned[pc][r >> 6] & 1UL << r) == 0)
                    read.Add(r);
        return [.. read];
    }

    private static IEnumerable<int> Successors(PInstruction ins, int pc, int count)
    {
        if (ins.Kind == PKind.Bra)
            yield return ins.Target;
        bool stops = ins.Guard < 0 && ins.Kind is PKind.Bra or PKind.Ret;
        if (!stops && pc + 1 < count)
            yield return pc + 1;
    }

    private static IEnumerable<int> Writes(PInstruction ins)
    {
        if (ins.Kind == PKind.Mma)
            return ins.Fragments.Take(4).Select(o => o.Register);
        return ins.Dest.Kind == OperandKind.Register ? [ins.Dest.Register] : [];
    }

    private static IEnumerable<int> Reads(PInstruction ins)
    {
        IEnumerable<POperand> sources = ins.Kind == PKind.Mma ? ins.Fragments.Skip(4) : ins.Sources;
        IEnumerable<int> registers = sources.Where(o => o.Kind == OperandKind.Register).Select(o => o.Register);
        return ins.Guard >= 0 ? registers.Append(ins.Guard) : registers;
    }

    /// <summary>
    /// The specialised operation of an instruction, only where it is exactly the plain form (round to
    /// nearest, no .ftz/.sat, .lo multiplies); every other accepted form runs through
    /// <see cref="XOp.Generic"/>, the scalar semantics of <see cref="PtxArithmetic"/>.
    /// </summary>
    private static XOp Select(PInstruction ins)
    {
        PType t = ins.Type;
        int size = t.Size();
        bool integer = !t.IsFloat() && t != PType.Pred;
        bool plain = ins.Rounding is "" or "rn" && !ins.Ftz && !ins.Sat;
        bool f32 = t == PType.F32 && plain, f64 = t == PType.F64 && plain;
        return ins.Kind switch
        {
            PKind.Add => f32 ? XOp.AddF32 : f64 ? XOp.AddF64 : integer && size == 4 ? XOp.AddI32 : integer && size == 8 ? XOp.AddI64 : XOp.Generic,
            PKind.Sub => f32 ? XOp.SubF32 : f64 ? XOp.SubF64 : integer && size == 4 ? XOp.SubI32 : integer && size == 8 ? XOp.SubI64 : XOp.Generic,
            PKind.Mul => f32 ? XOp.MulF32 : f64 ? XOp.MulF64
                : integer && ins.Modifier == "lo" ? (size == 4 ? XOp.MulLoI32 : size == 8 ? XOp.MulLoI64 : XOp.Generic) : XOp.Generic,
            PKind.Div => f32 && ins.Rounding == "rn" ? XOp.DivF32 : XOp.Generic,
            PKind.Fma => f32 && ins.Rounding == "rn" ? XOp.FmaF32 : f64 ? XOp.FmaF64 : XOp.Generic,
            PKind.And => XOp.And,
            PKind.Or => XOp.Or,
            PKind.Xor => XOp.Xor,
            PKind.Shl => integer && size == 4 ? XOp.ShlB32 : integer && size == 8 ? XOp.ShlB64 : XOp.Generic,
            PKind.Shr => integer && size == 4 ? (t.IsSigned() ? XOp.ShrS32 : XOp.ShrU32)
                : integer && size == 8 ? (t.IsSigned() ? XOp.ShrS64 : XOp.ShrU64) : XOp.Generic,
            PKind.Setp => t == PType.F32 && !ins.Ftz ? XOp.SetpF32 : t == PType.F64 ? XOp.SetpF64 : integer && size >= 4 ? XOp.SetpInt : XOp.Generic,
            PKind.Selp => XOp.Selp,
            PKind.Cvt when ins.Sat || ins.Ftz => XOp.Generic,
            PKind.Cvt => (t, ins.SourceType, ins.Rounding) switch
            {
                (PType.S64, PType.S32, "") => XOp.CvtS64S32,
                (PType.U64 or PType.S64, PType.U32, "") => XOp.CvtU64U32,
                (PType.U32 or PType.S32, PType.U64 or PType.S64, "") => XOp.CvtU32U64,
                (PType.F32, PType.S32, "rn") => XOp.CvtF32S32,
                _ => XOp.Generic,
            },
            PKind.Cvta => ins.Modifier == "to"
                ? (ins.Space == PSpace.Global ? XOp.CvtaToGlobal : XOp.CvtaStrip)
                : ins.Space switch { PSpace.Shared => XOp.CvtaShared, PSpace.Local => XOp.CvtaLocal, _ => XOp.CvtaToGlobal },
            PKind.Mov => XOp.Mov,
            PKind.Ld => XOp.Ld,
            PKind.St => XOp.St,
            PKind.Atom => XOp.Atom,
            PKind.Bra => XOp.Bra,
            PKind.Ret => XOp.Ret,
            PKind.Bar => ins.Modifier switch { "sync" => XOp.Bar, "warp" => XOp.WarpSync, _ => XOp.BarRed },
            PKind.Membar => XOp.Membar,
            PKind.Shfl => XOp.Shfl,
            PKind.Mma => XOp.Mma,
            _ => XOp.Generic,
        };
    }

    private static XCmp Comparison(PInstruction ins, PKernel kernel)
    {
        string op = ins.Modifier;
        if (ins.Type.IsFloat())
        {
            return op switch
            {
                "eq" => XCmp.Eq, "ne" => XCmp.Ne, "lt" => XCmp.Lt, "le" => XCmp.Le, "gt" => XCmp.Gt, "ge" => XCmp.Ge,
                "equ" => XCmp.Equ, "neu" => XCmp.Neu, "ltu" => XCmp.Ltu, "leu" => XCmp.Leu, "gtu" => XCmp.Gtu, "geu" => XCmp.Geu,
                "nan" => XCmp.Nan, "num" => XCmp.Num,
                _ => throw new PtxEmulatorException($"{kernel.Name}: setp.{op} is not emulated ('{ins.Text}')"),
            };
        }
        bool signed = ins.Type.IsSigned();
        return op switch
        {
            "eq" => XCmp.Eq, "ne" => XCmp.Ne,
            "lt" => signed ? XCmp.LtS : XCmp.LtU, "le" => signed ? XCmp.LeS : XCmp.LeU,
            "gt" => signed ? XCmp.GtS : XCmp.GtU, "ge" => signed ? XCmp.GeS : XCmp.GeU,
            "lo" => XCmp.LtU, "ls" => XCmp.LeU, "hi" => XCmp.GtU, "hs" => XCmp.GeU,
            _ => throw new PtxEmulatorException($"{kernel.Name}: setp.{op} is not emulated ('{ins.Text}')"),
        };
    }
}
