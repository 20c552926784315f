using System.Globalization;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>Decodes one PTX instruction statement (without its ';').</summary>
internal static class PtxInstructionParser
{
    private static readonly HashSet<string> s_typeNames =
        ["pred", "b8", "u8", "s8", "b16", "u16", "s16", "f16", "b32", "u32", "s32", "b64", "u64", "s64", "f32", "f64"];

    public static PInstruction Parse(string text, Dictionary<string, int> registers, string[] lines, int n)
    {
        int guard = -1;
        bool negated = false;
        string rest = text;
        if (rest.StartsWith('@'))
        {
            int space = rest.IndexOf(' ', StringComparison.Ordinal);
            string g = rest[1..space];
            negated = g.StartsWith('!');
            guard = Register(negated ? g[1..] : g, registers, lines, n);
            rest = rest[(space + 1)..].Trim();
        }
        int split = rest.IndexOfAny([' ', '\t']);
        string opcode = split < 0 ? rest : rest[..split];
        string operandText = split < 0 ? "" : rest[(split + 1)..].Trim();
        if (!PtxForms.All.Contains(opcode))
            throw PtxParser.Unexpected(lines, n, $"an instruction form the emulator executes exactly, not '{opcode}' (the accepted forms are listed in PtxForms; anything else is rejected rather than run approximately)");
        string[] tokens = opcode.Split('.');
        var types = tokens.Skip(1).Where(s_typeNames.Contains).Select(t => PtxParser.ParseType(t, lines, n)).ToList();
        var mods = tokens.Skip(1).Where(t => !s_typeNames.Contains(t)).ToList();
        PSpace space0 = mods.Contains("global") ? PSpace.Global : mods.Contains("shared") ? PSpace.Shared
            : mods.Contains("local") ? PSpace.Local : mods.Contains("param") ? PSpace.Param : PSpace.None;
        PKind kind = tokens[0] switch
        {
            "add" => PKind.Add, "sub" => PKind.Sub, "mul" => PKind.Mul, "div" => PKind.Div, "rem" => PKind.Rem,
            "and" => PKind.And, "or" => PKind.Or, "xor" => PKind.Xor, "shl" => PKind.Shl, "shr" => PKind.Shr,
            "neg" => PKind.Neg, "not" => PKind.Not, "min" => PKind.Min, "max" => PKind.Max, "abs" => PKind.Abs,
            "fma" => PKind.Fma, "sqrt" => PKind.Sqrt, "rsqrt" => PKind.Rsqrt, "ex2" => PKind.Ex2, "lg2" => PKind.Lg2,
            "sin" => PKind.Sin, "cos" => PKind.Cos, "setp" => PKind.Setp, "selp" => PKind.Selp, "cvt" => PKind.Cvt,
            "cvta" => PKind.Cvta, "mov" => PKind.Mov, "ld" => PKind.Ld, "st" => PKind.St, "bra" => PKind.Bra,
            "ret" or "exit" => PKind.Ret, "bar" => PKind.Bar, "membar" => PKind.Membar, "shfl" => PKind.Shfl,
            "atom" or "red" => PKind.Atom, "mma" => PKind.Mma, "mad" => PKind.Mad, "rcp" => PKind.Rcp, "tanh" => PKind.Tanh,
            "testp" => PKind.Testp, "copysign" => PKind.Copysign,
            _ => throw PtxParser.Unexpected(lines, n, $"an instruction the emulator implements, not '{tokens[0]}'"),
        };
        string modifier = kind switch
        {
            PKind.Setp or PKind.Testp => mods[0],
            PKind.Shfl => mods[1],
            PKind.Atom => mods.First(m => m is "add" or "min" or "max" or "exch" or "cas" or "and" or "or" or "xor"),
            PKind.Mul or PKind.Mad => mods.FirstOrDefault(m => m is "lo" or "hi" or "wide") ?? "",
            PKind.Min or PKind.Max => mods.Contains("NaN") ? "NaN" : "",
            PKind.Cvta => mods.Contains("to") ? "to" : "",
            PKind.Mma => mods.Contains("bf16") ? "bf16" : "f16",
            PKind.Bar => mods[0] == "red" ? mods[1] : mods[0], // sync, warp, popc, and, or
            _ => "",
        };
        string rounding = mods.FirstOrDefault(m => m is "rn" or "rz" or "rm" or "rp" or "rni" or "rzi" or "rmi" or "rpi" or "approx" or "full") ?? "";
        if (kind == PKind.Bra)
            return new PInstruction { Kind = kind, Text = text, Guard = guard, GuardNegated = negated, TargetLabel = operandText };
        if (kind == PKind.Mma)
            return Mma(text, operandText, mods, types, registers, lines, n, guard, negated);
        string[] ops = operandText.Length == 0 ? [] : operandText.Split(',').Select(s => s.Trim()).ToArray();
        POperand[] parsed = ops.Select(o => Operand(o, registers, lines, n)).ToArray();
        bool red = tokens[0] == "red";
        bool hasDest = !red && kind is not (PKind.St or PKind.Membar or PKind.Ret) && !(kind == PKind.Bar && modifier is "sync" or "warp");
        CheckOperands(kind, modifier, red, parsed, lines, n);
        return new PInstruction
        {
            Kind = kind,
            Text = text,
            Type = types.Count > 0 ? types[0] : PType.B32,
            SourceType = types.Count > 1 ? types[1] : types.Count > 0 ? types[0] : PType.B32,
            Space = space0,
            Modifier = modifier,
            Rounding = rounding,
            Ftz = mods.Contains("ftz"),
            Sat = mods.Contains("sat"),
            Dest = hasDest && parsed.Length > 0 ? parsed[0] : POperand.None,
            Sources = hasDest && parsed.Length > 0 ? parsed[1..] : parsed,
            Guard = guard,
            GuardNegated = negated,
        };
    }

    /// <summary>Operand shapes the executor relies on: counts, and the barrier forms it implements.</summary>
    private static void CheckOperands(PKind kind, string modifier, bool red, POperand[] ops, string[] lines, int n)
    {
        int expected = kind switch
        {
            PKind.Ret or PKind.Membar => 0,
            PKind.Bar => modifier is "sync" or "warp" ? 1 : 3,
            PKind.Neg or PKind.Not or PKind.Abs or PKind.Sqrt or PKind.Rsqrt or PKind.Ex2 or PKind.Lg2 or PKind.Sin or PKind.Cos
                or PKind.Cvt or PKind.Cvta or PKind.Mov or PKind.Ld or PKind.St or PKind.Rcp or PKind.Tanh or PKind.Testp => 2,
            PKind.Fma or PKind.Mad or PKind.Selp => 4,
            PKind.Atom => red ? 2 : modifier == "cas" ? 4 : 3,
            PKind.Shfl => 5,
            _ => 3,
        };
        if (ops.Length != expected)
            throw PtxParser.Unexpected(lines, n, $"{expected} operands");
        for (int i = 0; i < ops.Length; i++)
        {
            bool negatedPredicate = ops[i].Kind == OperandKind.Register && ops[i].Bits == 1;
            if (negatedPredicate && !(kind == PKind.Bar && i == 2))
                throw PtxParser.Unexpected(lines, n, "a '!' only on the predicate operand of bar.red");
            bool offsetSymbol = ops[i].Kind == OperandKind.Symbol && ops[i].Bits != 0;
            if (offsetSymbol && kind is not (PKind.Ld or PKind.St))
                throw PtxParser.Unexpected(lines, n, "[symbol+offset] only in ld and st of .param");
        }
        // Barrier 0 of the whole block, and warp syncs of the full warp: the emulator has one barrier per block.
        if (kind == PKind.Bar && modifier != "warp" && (ops[modifier == "sync" ? 0 : 1] is not { Kind: OperandKind.Immediate, Bits: 0 }))
            throw PtxParser.Unexpected(lines, n, "barrier 0 given as the immediate 0 (named barriers and thread counts are not emulated)");
        if (kind == PKind.Bar && modifier == "warp" && ops[0] is not { Kind: OperandKind.Immediate, Bits: 0xFFFF_FFFF or ulong.MaxValue })
            throw PtxParser.Unexpected(lines, n, "bar.warp.sync with the full-warp mask -1 or 0xffffffff");
    }

    /// <summary>
    /// mma.sync.aligned.m16n8k16.row.col.f32.{f16|bf16}.{f16|bf16}.f32 {d0..d3}, {a0..a3}, {b0, b1}, {c0..c3}:
    /// the one shape the compiler emits.
    /// </summary>
    private static PInstruction Mma(string text, string operandText, List<string> mods, List<PType> types,
        Dictionary<string, int> registers, string[] lines, int n, int guard, bool negated)
    {
        bool bf16 = mods.Contains("bf16");
        bool shape = mods.Contains("sync") && mods.Contains("aligned") && mods.Contains("m16n8k16") && mods.Contains("row") && mods.Contains("col");
        int inputs = mods.Count(m => m == "bf16") + types.Count(t => t == PType.F16);
        if (!shape || types.Count(t => t == PType.F32) != 2 || inputs != 2 || (bf16 && types.Contains(PType.F16)))
            throw PtxParser.Unexpected(lines, n, "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 or .f32.bf16.bf16.f32 (the forms the emulator implements)");
        var groups = new List<POperand>();
        int sizes = 0;
        foreach (string group in operandText.Split('}', StringSplitOptions.RemoveEmptyEntries))
        {
            string inner = group.Trim().TrimStart(',').Trim();
            if (inner.Length == 0)
                continue;
            if (!inner.StartsWith('{'))
                throw PtxParser.Unexpected(lines, n, "mma operands as four {…} register lists");
            string[] names = inner[1..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            sizes = sizes * 10 + names.Length;
            groups.AddRange(names.Select(r => new POperand(OperandKind.Register, Register(r, registers, lines, n), 0, null)));
        }
        if (sizes != 4424)
            throw PtxParser.Unexpected(lines, n, "mma fragments of 4, 4, 2 and 4 registers (D, A, B, C)");
        return new PInstruction { Kind = PKind.Mma, Text = text, Type = PType.F32, Modifier = bf16 ? "bf16" : "f16", Fragments = [.. groups], Guard = guard, GuardNegated = negated };
    }

    private static int Register(string name, Dictionary<string, int> registers, string[] lines, int n)
        => registers.TryGetValue(name, out int r) ? r : throw PtxParser.Unexpected(lines, n, $"a declared register, not '{name}'");

    private static POperand Operand(string text, Dictionary<string, int> registers, string[] lines, int n)
    {
        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1].Trim();
            int plus = text.IndexOf('+', StringComparison.Ordinal);
            if (plus > 0)
            {
                // [param+offset]: a field of a parameter blob (ILGPU's ArrayView is {pointer, length}).
                string symbol = text[..plus].Trim();
                if (symbol.StartsWith('%') || !int.TryParse(text[(plus + 1)..].Trim(), CultureInfo.InvariantCulture, out int offset) || offset < 0)
                    throw PtxParser.Unexpected(lines, n, $"an address [register], [symbol] or [parameter+offset], not '[{text}]' (register+offset addresses are not emulated)");
                return new POperand(OperandKind.Symbol, -1, (ulong)offset, symbol);
            }
        }
        if (text.StartsWith("!%", StringComparison.Ordinal) && registers.TryGetValue(text[1..], out int negatedRegister))
            return new POperand(OperandKind.Register, negatedRegister, 1, null);
        if (text.StartsWith('%'))
        {
            if (registers.TryGetValue(text, out int r))
                return new POperand(OperandKind.Register, r, 0, null);
            int special = Array.IndexOf(PtxSpecials.Names, text);
            return special >= 0
                ? new POperand(OperandKind.Special, special, 0, text)
                : throw PtxParser.Unexpected(lines, n, $"a declared register or special register, not '{text}'");
        }
        if (text.StartsWith("0f", StringComparison.Ordinal) && text.Length == 10)
            return new POperand(OperandKind.Immediate, -1, uint.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture), null);
        if (text.StartsWith("0d", StringComparison.Ordinal) && text.Length == 18)
            return new POperand(OperandKind.Immediate, -1, ulong.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture), null);
        if (text.StartsWith("0x", StringComparison.Ordinal))
            return new POperand(OperandKind.Immediate, -1, ulong.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture), null);
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            return new POperand(OperandKind.Immediate, -1, (ulong)value, null);
        if (text.Length > 0 && (char.IsLetter(text[0]) || text[0] == '_' || text[0] == '$'))
            return new POperand(OperandKind.Symbol, -1, 0, text);
        throw PtxParser.Unexpected(lines, n, $"a register, immediate or symbol operand, not '{text}'");
    }
}
