using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Ptx;

/// <summary>Instruction selection: one IR instruction → one or a few PTX instructions.</summary>
internal static class PtxInstructions
{
    public static void Write(PtxEmitter e, Inst i)
    {
        IrType t = i.Type;
        Value[] a = i.Args;
        bool f = t.IsFloat();
        switch (i.Op)
        {
            case Op.Add or Op.Sub:
                {
                    string name = i.Op == Op.Add ? "add" : "sub";
                    e.L(f ? $"{name}.rn.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};"
                          : $"{name}.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                    return;
                }
            case Op.PtrAdd:
                e.L($"add.s64 {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Mul:
                e.L(f ? $"mul.rn.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};"
                      : $"mul.lo.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Div:
                e.L(f ? $"div.rn.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};"
                      : $"div.{PtxEmitter.Arith(t, i.Unsigned)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Rem:
                if (f)
                    throw new KernelCompileException($"kernel '{e.FunctionName}': the floating-point remainder (%) has no PTX instruction; write x - MathF.Truncate(x / y) * y instead");
                e.L($"rem.{PtxEmitter.Arith(t, i.Unsigned)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.And or Op.Or or Op.Xor:
                e.L($"{i.Op.ToString().ToLowerInvariant()}.{PtxEmitter.Bits(t)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Shl:
                e.L($"shl.{PtxEmitter.Bits(t)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Shr:
                e.L($"shr.{PtxEmitter.Arith(t, i.Unsigned)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Neg:
                e.L($"neg.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.R(a[0])};");
                return;
            case Op.Not:
                e.L($"not.{PtxEmitter.Bits(t)} {e.D(i)}, {e.R(a[0])};");
                return;
            case Op.Min or Op.Max when t == IrType.F32:
                // .NaN: a NaN operand gives NaN, as MathF.Min/Max do (sm_80+).
                e.L($"{i.Op.ToString().ToLowerInvariant()}.NaN.f32 {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Min or Op.Max when t == IrType.F64:
                {
                    // min.f64 has no .NaN form: pick a + b (NaN) when either operand is NaN.
                    string m = e.Temp(IrType.F64), sum = e.Temp(IrType.F64), p = e.Temp(IrType.Pred);
                    e.L($"{i.Op.ToString().ToLowerInvariant()}.f64 {m}, {e.A(a[0])}, {e.A(a[1])};");
                    e.L($"add.rn.f64 {sum}, {e.A(a[0])}, {e.A(a[1])};");
                    e.L($"setp.nan.f64 {p}, {e.A(a[0])}, {e.A(a[1])};");
                    e.L($"selp.f64 {e.D(i)}, {sum}, {m}, {p};");
                    return;
                }
            case Op.Min or Op.Max:
                e.L($"{i.Op.ToString().ToLowerInvariant()}.{PtxEmitter.Arith(t, i.Unsigned)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Abs:
                e.L($"abs.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.R(a[0])};");
                return;
            case Op.Fma:
                e.L($"fma.rn.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])}, {e.A(a[2])};");
                return;
            case Op.Sqrt:
                e.L($"sqrt.rn.{PtxEmitter.Arith(t, false)} {e.D(i)}, {e.R(a[0])};");
                return;
            case Op.Rsqrt or Op.Ex2 or Op.Lg2 or Op.Sin or Op.Cos:
                e.L($"{i.Op.ToString().ToLowerInvariant()}.approx.f32 {e.D(i)}, {e.R(a[0])};");
                return;
            case Op.Floor or Op.Ceil or Op.Round or Op.Trunc:
                {
                    string mode = i.Op switch { Op.Floor => "rmi", Op.Ceil => "rpi", Op.Round => "rni", _ => "rzi" };
                    string ty = PtxEmitter.Arith(t, false);
                    e.L($"cvt.{mode}.{ty}.{ty} {e.D(i)}, {e.R(a[0])};");
                    return;
                }
            case Op.Cmp:
                e.L($"setp.{CompareName(i)}.{PtxEmitter.Arith(a[0].Type, i.Unsigned)} {e.D(i)}, {e.A(a[0])}, {e.A(a[1])};");
                return;
            case Op.Select:
                e.L($"selp.{PtxEmitter.Bits(t)} {e.D(i)}, {e.A(a[1])}, {e.A(a[2])}, {e.R(a[0])};");
                return;
            case Op.Convert:
                Convert(e, i);
                return;
            case Op.ToGeneric:
                e.L($"cvta.{((AddressSpace)i.Symbol).ToString().ToLowerInvariant()}.u64 {e.D(i)}, {e.R(a[0])};");
                return;
            case Op.HalfToFloat:
                {
                    string h = e.Temp16();
                    e.L($"cvt.u16.u32 {h}, {e.R(a[0])};");
                    e.L($"cvt.f32.f16 {e.D(i)}, {h};");
                    return;
                }
            case Op.FloatToHalf:
                {
                    string h = e.Temp16();
                    e.L($"cvt.rn.f16.f32 {h}, {e.R(a[0])};");
                    e.L($"cvt.u32.u16 {e.D(i)}, {h};");
                    return;
                }
            case Op.BitCast:
                e.L($"mov.b{(t.Is64() ? 64 : 32)} {e.D(i)}, {e.R(a[0])};");
                return;
            case Op.Load:
                e.L($"ld{Space(a[0])}.{PtxEmitter.Suffix(i.Mem)} {e.D(i)}, [{e.R(a[0])}];");
                return;
            case Op.Store:
                e.L($"st{Space(a[0])}.{PtxEmitter.Suffix(i.Mem)} [{e.R(a[0])}], {e.R(a[1])};");
                return;
            case Op.Special:
                e.L($"mov.u32 {e.D(i)}, {SpecialName(i.Special)};");
                return;
            case Op.SharedBase:
                e.L($"mov.u64 {e.D(i)}, {e.Function.SharedAllocations[i.Symbol].Name};");
                return;
            case Op.DynamicSharedBase:
                e.L($"mov.u64 {e.D(i)}, dsmem;");
                return;
            case Op.LocalBase:
                e.L($"mov.u64 {e.D(i)}, {e.Function.LocalAllocations[i.Symbol].Name};");
                return;
            case Op.Barrier:
                e.L("bar.sync 0;");
                return;
            case Op.Fence:
                e.L(i.Fence switch { FenceScope.Block => "membar.cta;", FenceScope.Device => "membar.gl;", _ => "membar.sys;" });
                return;
            case Op.Shuffle:
                {
                    string mode = i.Shuffle switch { ShuffleMode.Xor => "bfly", ShuffleMode.Down => "down", ShuffleMode.Up => "up", _ => "idx" };
                    string clamp = i.Shuffle == ShuffleMode.Up ? "0" : "31";
                    e.L($"shfl.sync.{mode}.b32 {e.D(i)}, {e.R(a[0])}, {e.A(a[1])}, {clamp}, -1;");
                    return;
                }
            case Op.Atomic:
                Atomic(e, i);
                return;
            case Op.Mma:
                {
                    string input = i.Symbol == 1 ? "bf16" : "f16";
                    string[] d = [e.D(i), e.Temp(IrType.F32), e.Temp(IrType.F32), e.Temp(IrType.F32)];
                    e.MmaOutputs[i] = d;
                    string R(int k) => e.R(a[k]);
                    e.L($"mma.sync.aligned.m16n8k16.row.col.f32.{input}.{input}.f32 {{{string.Join(", ", d)}}}, {{{R(0)}, {R(1)}, {R(2)}, {R(3)}}}, {{{R(4)}, {R(5)}}}, {{{R(6)}, {R(7)}, {R(8)}, {R(9)}}};");
                    return;
                }
            case Op.MmaPart:
                e.L($"mov.f32 {e.D(i)}, {e.MmaOutputs[(Inst)a[0].Resolve()][i.Symbol]};");
                return;
        }
        throw new InvalidOperationException($"no PTX for {i.Op}");
    }

    /// <summary>".global", ".shared", ".local", or "" for a generic address.</summary>
    private static string Space(Value pointer) => pointer.Space switch
    {
        AddressSpace.Global => ".global",
        AddressSpace.Shared => ".shared",
        AddressSpace.Local => ".local",
        _ => "",
    };

    private static string CompareName(Inst i)
    {
        bool f = i.Args[0].Type.IsFloat();
        string name = i.Cmp switch
        {
            CmpKind.Eq => "eq",
            CmpKind.Ne => "ne",
            CmpKind.Lt => i.Unsigned && !f ? "lo" : "lt",
            CmpKind.Le => i.Unsigned && !f ? "ls" : "le",
            CmpKind.Gt => i.Unsigned && !f ? "hi" : "gt",
            _ => i.Unsigned && !f ? "hs" : "ge",
        };
        return f && i.Unordered ? name + "u" : name;
    }

    private static string SpecialName(SpecialReg r) => r switch
    {
        SpecialReg.TidX => "%tid.x", SpecialReg.TidY => "%tid.y", SpecialReg.TidZ => "%tid.z",
        SpecialReg.NtidX => "%ntid.x", SpecialReg.NtidY => "%ntid.y", SpecialReg.NtidZ => "%ntid.z",
        SpecialReg.CtaidX => "%ctaid.x", SpecialReg.CtaidY => "%ctaid.y", SpecialReg.CtaidZ => "%ctaid.z",
        SpecialReg.NctaidX => "%nctaid.x", SpecialReg.NctaidY => "%nctaid.y", SpecialReg.NctaidZ => "%nctaid.z",
        SpecialReg.LaneId => "%laneid",
        _ => "%dynamic_smem_size",
    };

    private static void Convert(PtxEmitter e, Inst i)
    {
        IrType from = i.Args[0].Type, to = i.Type;
        string src = e.R(i.Args[0]);
        string d = e.D(i);
        if (from.IsFloat() && to.IsFloat())
            e.L(to == IrType.F32 ? $"cvt.rn.f32.f64 {d}, {src};" : $"cvt.f64.f32 {d}, {src};");
        else if (from.IsFloat())
            e.L($"cvt.rzi.{PtxEmitter.Arith(to, i.Unsigned)}.{PtxEmitter.Arith(from, false)} {d}, {src};");
        else if (to.IsFloat())
            e.L($"cvt.rn.{PtxEmitter.Arith(to, false)}.{PtxEmitter.Arith(from, i.SourceUnsigned)} {d}, {src};");
        else if (to == IrType.I64)
            e.L($"cvt.{(i.SourceUnsigned ? "u64.u32" : "s64.s32")} {d}, {src};");
        else
            e.L($"cvt.u32.u64 {d}, {src};");
    }

    private static void Atomic(PtxEmitter e, Inst i)
    {
        string space = Space(i.Args[0]);
        string type = i.Atomic switch
        {
            AtomicOp.Exchange or AtomicOp.CompareExchange => i.Mem.Size() == 8 ? "b64" : "b32",
            AtomicOp.Add when i.Mem == MemType.S64 => "u64",
            _ => PtxEmitter.Suffix(i.Mem),
        };
        string op = i.Atomic switch { AtomicOp.Add => "add", AtomicOp.Min => "min", AtomicOp.Max => "max", AtomicOp.Exchange => "exch", _ => "cas" };
        string operands = i.Atomic == AtomicOp.CompareExchange ? $"{e.R(i.Args[1])}, {e.R(i.Args[2])}" : e.R(i.Args[1]);
        e.L($"atom{space}.{op}.{type} {e.D(i)}, [{e.R(i.Args[0])}], {operands};");
    }
}
