using System.Globalization;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Parses the PTX subset Tessera's compiler and ILGPU emit (one .entry per module or several,
/// scalar and byte-blob .params, .reg/.shared/.local declarations, guarded instructions, labels,
/// tabs or spaces). Anything else, and every instruction form outside <see cref="PtxForms.All"/>,
/// is rejected with the line (and kernel) it was found on.
/// </summary>
internal static class PtxParser
{
    /// <summary>Registers one kernel may declare (Tessera's largest kernels use a few hundred).</summary>
    public const int MaxRegisters = 1 << 16;

    /// <summary>
    /// The kernels of a PTX module. Malformed text is a <see cref="PtxEmulatorException"/>: the line
    /// parsers name what they expected; anything they did not anticipate (a missing operand, a number
    /// that is not one: found by fuzzing, docs/RELIABILITY.md) is turned into one too, never another
    /// exception type.
    /// </summary>
    public static List<PKernel> Parse(string ptx)
    {
        try
        {
            return ParseModule(ptx);
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentException or ArithmeticException or InvalidOperationException or KeyNotFoundException)
        {
            throw new PtxEmulatorException($"PTX: a malformed line the parser did not name ({e.Message}); expected a well-formed line of the PTX subset Tessera's compiler and ILGPU emit", e);
        }
    }

    private static List<PKernel> ParseModule(string ptx)
    {
        string[] lines = ptx.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        var externShared = new List<string>();
        var functions = new Dictionary<string, PFunction>(StringComparer.Ordinal);
        var entries = new List<(string Header, List<PParam> Params, List<(string Text, int Line)> Body)>();
        int n = 0, scopes = 0;
        while (n < lines.Length)
        {
            string line = Clean(lines[n]);
            if (line.StartsWith(".visible .entry ", StringComparison.Ordinal) || line.StartsWith(".entry ", StringComparison.Ordinal))
            {
                string header = line;
                List<PParam> parameters = EntryParams(lines, ref n);
                entries.Add((header, parameters, PtxCalls.Body(lines, ref n, Clean, ref scopes)));
            }
            else if (line.StartsWith(".visible .func", StringComparison.Ordinal) || line.StartsWith(".func", StringComparison.Ordinal))
            {
                if (PtxCalls.Function(lines, ref n, Clean, ref scopes) is PFunction f)
                    functions[f.Name] = f;
            }
            else
            {
                if (line.StartsWith(".extern .shared", StringComparison.Ordinal))
                    externShared.Add(line.TrimEnd(';').Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].Replace("[]", "", StringComparison.Ordinal));
                else if (line.Length > 0 && !line.StartsWith(".version ", StringComparison.Ordinal) && !line.StartsWith(".target ", StringComparison.Ordinal)
                    && !line.StartsWith(".address_size ", StringComparison.Ordinal))
                {
                    // Module-level .global or .const variables (or anything else) would be skipped silently otherwise.
                    throw Unexpected(lines, n, "a module-level .version, .target, .address_size, .extern .shared, .func or .entry (global and constant variables are not emulated)");
                }
                n++;
            }
        }
        if (entries.Count == 0)
            throw new PtxEmulatorException("the PTX module has no .entry; expected text produced by Tessera's kernel compiler or ILGPU");
        var kernels = new List<PKernel>();
        int expansions = 0;
        foreach ((string header, List<PParam> parameters, List<(string Text, int Line)> body) in entries)
        {
            string name = header[(header.IndexOf(".entry ", StringComparison.Ordinal) + 7)..].Split('(')[0].Trim();
            List<(string Text, int Line)> code;
            try
            {
                code = PtxCalls.Expand(body, functions, lines, ref expansions);
            }
            catch (PtxEmulatorException e)
            {
                throw new PtxEmulatorException($"kernel {name}: {e.Message}", e);
            }
            PKernel k = ParseEntry(name, parameters, code, lines);
            foreach (string shared in externShared)
            {
                k.HasDynamicShared = true;
                k.Variables.Add(new PVariable(shared, PSpace.Shared, 0, 16, -1));
            }
            kernels.Add(k);
        }
        return kernels;
    }

    /// <summary>The .param list of an .entry header; leaves <paramref name="n"/> after the closing ')'.</summary>
    private static List<PParam> EntryParams(string[] lines, ref int n)
    {
        var parameters = new List<PParam>();
        int offset = 0;
        for (n++; n < lines.Length; n++)
        {
            string line = Clean(lines[n]).TrimEnd(',');
            if (line.StartsWith(')'))
                break;
            if (line.Length == 0)
                continue;
            parameters.Add(Param(line, ref offset, lines, n));
        }
        n++;
        return parameters;
    }

    /// <summary>The line without its comment, tabs turned into spaces (ILGPU separates operands with tabs).</summary>
    private static string Clean(string line)
    {
        int comment = line.IndexOf("//", StringComparison.Ordinal);
        return (comment >= 0 ? line[..comment] : line).Replace('\t', ' ').Trim();
    }

    private static PKernel ParseEntry(string name, List<PParam> parameters, List<(string Text, int Line)> body, string[] lines)
    {
        var k = new PKernel { Name = name };
        k.Params.AddRange(parameters);
        var registers = new Dictionary<string, int>(StringComparer.Ordinal);
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        int sharedOffset = 0, localOffset = 0;
        foreach ((string line, int n) in body)
        {
            if (line.EndsWith(':'))
            {
                labels[line[..^1]] = k.Code.Count;
                continue;
            }
            if (line.StartsWith(".reg ", StringComparison.Ordinal))
            {
                // .reg .f32 %f<4>;
                string[] p = line.TrimEnd(';').Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (p.Length != 3)
                    throw Unexpected(lines, n, "'.reg .type %name<count>;' or '.reg .type %name;'");
                string decl = p[2];
                int lt = decl.IndexOf('<', StringComparison.Ordinal);
                if (lt < 0)
                {
                    registers[decl] = registers.Count;
                    continue;
                }
                int count = decl.EndsWith('>') && int.TryParse(decl[(lt + 1)..^1], NumberStyles.None, CultureInfo.InvariantCulture, out int c) ? c : throw Unexpected(lines, n, "a register count '%name<count>'");
                // Each register is a dictionary entry and a slot in every warp's register file:
                // an absurd count would hang the parser and exhaust memory, not fail.
                if (registers.Count + (long)count > MaxRegisters)
                    throw Unexpected(lines, n, $"at most {MaxRegisters} registers per kernel, found a declaration of {count} more after {registers.Count}");
                string prefix = decl[..lt];
                for (int i = 0; i < count; i++)
                    registers[prefix + i.ToString(CultureInfo.InvariantCulture)] = registers.Count;
                continue;
            }
            if (line.StartsWith(".extern .shared", StringComparison.Ordinal))
            {
                k.HasDynamicShared = true;
                string[] p = line.TrimEnd(';').Split(' ', StringSplitOptions.RemoveEmptyEntries);
                k.Variables.Add(new PVariable(p[^1].Replace("[]", "", StringComparison.Ordinal), PSpace.Shared, 0, 16, -1));
                continue;
            }
            if (line.StartsWith(".param ", StringComparison.Ordinal))
            {
                // A call-scope argument (PtxCalls): per-thread memory, like .local.
                PParam argument = Param(line.TrimEnd(';'), ref localOffset, lines, n);
                k.Variables.Add(new PVariable(argument.Name, PSpace.Local, argument.Size, Math.Min(argument.Size, 8), argument.Offset));
                continue;
            }
            if (line.StartsWith(".shared ", StringComparison.Ordinal) || line.StartsWith(".local ", StringComparison.Ordinal))
            {
                try
                {
                    // .shared .align 16 .b8 smem0[1024];
                    string[] p = line.TrimEnd(';').Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    int align = int.Parse(p[2], NumberStyles.None, CultureInfo.InvariantCulture);
                    if (align == 0 || (align & (align - 1)) != 0)
                        throw Unexpected(lines, n, $"an alignment that is a power of two, found {align}");
                    string decl = p[4];
                    int lb = decl.IndexOf('[', StringComparison.Ordinal);
                    int bytes = int.Parse(decl[(lb + 1)..^1], NumberStyles.None, CultureInfo.InvariantCulture);
                    bool shared = p[0] == ".shared";
                    ref int at = ref shared ? ref sharedOffset : ref localOffset;
                    at = checked((at + align - 1) / align * align);
                    k.Variables.Add(new PVariable(decl[..lb], shared ? PSpace.Shared : PSpace.Local, bytes, align, at));
                    at = checked(at + bytes);
                }
                catch (Exception e) when (e is FormatException or OverflowException or IndexOutOfRangeException or ArgumentException)
                {
                    // A negative or absurd size, a missing field (found by fuzzing): named with its line.
                    throw new PtxEmulatorException(Unexpected(lines, n, "'.shared|.local .align A .b8 name[bytes];' with sizes that fit in 32 bits").Message, e);
                }
                continue;
            }
            if (!line.EndsWith(';'))
                throw Unexpected(lines, n, "an instruction ending in ';', a label or a declaration");
            try
            {
                PInstruction ins = PtxInstructionParser.Parse(line[..^1].Trim(), registers, lines, n);
                if (ins.Space == PSpace.Param && ins.Kind is PKind.Ld or PKind.St && k.Variables.Exists(v => v.Name == ins.Sources[0].Symbol))
                    ins.Space = PSpace.Local;
                else if (ins.Space == PSpace.Param && ins.Kind == PKind.St)
                    throw Unexpected(lines, n, "st.param only to a call argument declared in the body");
                k.Code.Add(ins);
            }
            catch (PtxEmulatorException e)
            {
                throw new PtxEmulatorException($"kernel {k.Name}: {e.Message}", e);
            }
        }
        k.StaticSharedBytes = (sharedOffset + 15) / 16 * 16;
        k.LocalBytes = localOffset;
        k.RegisterCount = registers.Count;
        foreach (PInstruction ins in k.Code)
            if (ins.TargetLabel is not null)
                ins.Target = labels.TryGetValue(ins.TargetLabel, out int at) ? at
                    : throw new PtxEmulatorException($"{k.Name}: branch to unknown label '{ins.TargetLabel}' in '{ins.Text}'");
        return k;
    }

    /// <summary>
    /// A kernel parameter: a scalar (<c>.param .u64 name</c>) or a byte blob
    /// (<c>.param .align 8 .b8 name[16]</c>, how ILGPU passes an ArrayView: pointer then length),
    /// placed at the next offset its alignment allows.
    /// </summary>
    private static PParam Param(string line, ref int offset, string[] lines, int n)
    {
        string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int at = 1, align = 0;
        if (parts.Length == 5 && parts[0] == ".param" && parts[1] == ".align")
        {
            align = int.TryParse(parts[2], CultureInfo.InvariantCulture, out int a) && a > 0 ? a : throw Unexpected(lines, n, "a positive .align");
            at = 3;
        }
        if (parts[0] != ".param" || parts.Length != at + 2 || !parts[at].StartsWith('.'))
            throw Unexpected(lines, n, "a '.param .type name' or '.param .align N .b8 name[bytes]' line");
        PType type = ParseType(parts[at][1..], lines, n);
        string name = parts[at + 1];
        int count = 1;
        int bracket = name.IndexOf('[', StringComparison.Ordinal);
        if (bracket >= 0)
        {
            count = name.EndsWith(']') && int.TryParse(name[(bracket + 1)..^1], CultureInfo.InvariantCulture, out int c) && c > 0 ? c : throw Unexpected(lines, n, "an array parameter 'name[count]'");
            name = name[..bracket];
        }
        int size = type.Size() * count;
        align = Math.Max(align, type.Size());
        offset = (offset + align - 1) / align * align;
        var param = new PParam(name, type, offset, size);
        offset += size;
        return param;
    }

    internal static PType ParseType(string text, string[] lines, int n) => text switch
    {
        "pred" => PType.Pred, "b8" => PType.B8, "u8" => PType.U8, "s8" => PType.S8,
        "b16" => PType.B16, "u16" => PType.U16, "s16" => PType.S16, "f16" => PType.F16,
        "b32" => PType.B32, "u32" => PType.U32, "s32" => PType.S32,
        "b64" => PType.B64, "u64" => PType.U64, "s64" => PType.S64,
        "f32" => PType.F32, "f64" => PType.F64,
        _ => throw Unexpected(lines, n, $"a PTX type, found '.{text}'"),
    };

    internal static PtxEmulatorException Unexpected(string[] lines, int n, string expected)
        => new($"PTX line {n + 1}: expected {expected}, found '{lines[n].Trim()}'. The emulator runs the subset Tessera's compiler emits.");
}

/// <summary>The emulator rejected PTX or a kernel did something illegal (out-of-bounds access, deadlock).</summary>
public sealed class PtxEmulatorException : Exception
{
    public PtxEmulatorException() { }

    public PtxEmulatorException(string message) : base(message) { }

    public PtxEmulatorException(string message, Exception inner) : base(message, inner) { }
}
