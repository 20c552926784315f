using System.Globalization;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Parses the PTX subset Tessera's compiler emits (one .entry per module or several, scalar
/// .params, .reg/.shared/.local declarations, guarded instructions, labels). Anything else is
/// rejected with the line it was found on.
/// </summary>
internal static class PtxParser
{
    /// <summary>Registers one kernel may declare (Tessera's largest kernels use a few hundred).</summary>
    public const int MaxRegisters = 1 << 16;

    public static List<PKernel> Parse(string ptx)
    {
        var kernels = new List<PKernel>();
        string[] lines = ptx.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        var externShared = new List<string>();
        int n = 0;
        while (n < lines.Length)
        {
            string line = Clean(lines[n]);
            if (line.StartsWith(".visible .entry ", StringComparison.Ordinal) || line.StartsWith(".entry ", StringComparison.Ordinal))
            {
                PKernel k;
                try
                {
                    k = ParseEntry(lines, ref n);
                }
                catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentException or ArithmeticException or InvalidOperationException or KeyNotFoundException)
                {
                    // A line of the entry is malformed in a way the line parsers did not name
                    // (a missing operand, a number that is not one): reject it with its line.
                    int at = Math.Min(n, lines.Length - 1);
                    throw new PtxEmulatorException(Unexpected(lines, at, "a well-formed line of the PTX subset").Message, e);
                }
                foreach (string name in externShared)
                {
                    k.HasDynamicShared = true;
                    k.Variables.Add(new PVariable(name, PSpace.Shared, 0, 16, -1));
                }
                kernels.Add(k);
            }
            else
            {
                if (line.StartsWith(".extern .shared", StringComparison.Ordinal))
                    externShared.Add(line.TrimEnd(';').Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].Replace("[]", "", StringComparison.Ordinal));
                n++;
            }
        }
        if (kernels.Count == 0)
            throw new PtxEmulatorException("the PTX module has no .entry; expected text produced by Tessera's kernel compiler");
        return kernels;
    }

    private static string Clean(string line)
    {
        int comment = line.IndexOf("//", StringComparison.Ordinal);
        return (comment >= 0 ? line[..comment] : line).Trim();
    }

    private static PKernel ParseEntry(string[] lines, ref int n)
    {
        string header = Clean(lines[n]);
        string name = header[(header.IndexOf(".entry ", StringComparison.Ordinal) + 7)..].TrimEnd('(').Trim();
        var k = new PKernel { Name = name };
        var registers = new Dictionary<string, int>(StringComparer.Ordinal);
        n++;
        int offset = 0;
        for (; n < lines.Length; n++)
        {
            string line = Clean(lines[n]).TrimEnd(',');
            if (line.StartsWith(')'))
                break;
            if (line.Length == 0)
                continue;
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || parts[0] != ".param")
                throw Unexpected(lines, n, "a '.param .type name' line");
            PType type = ParseType(parts[1][1..], lines, n);
            int size = type.Size();
            offset = (offset + size - 1) / size * size;
            k.Params.Add(new PParam(parts[2], type, offset, size));
            offset += size;
        }
        n++;
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        int sharedOffset = 0, localOffset = 0;
        for (; n < lines.Length; n++)
        {
            string line = Clean(lines[n]);
            if (line is "" or "{")
                continue;
            if (line == "}")
            {
                n++;
                break;
            }
            if (line.EndsWith(':'))
            {
                labels[line[..^1]] = k.Code.Count;
                continue;
            }
            if (line.StartsWith(".reg ", StringComparison.Ordinal))
            {
                // .reg .f32 %f<4>;
                string decl = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2].TrimEnd(';');
                int lt = decl.IndexOf('<', StringComparison.Ordinal);
                int count = int.Parse(decl[(lt + 1)..^1], NumberStyles.None, CultureInfo.InvariantCulture);
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
            if (line.StartsWith(".shared ", StringComparison.Ordinal) || line.StartsWith(".local ", StringComparison.Ordinal))
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
                continue;
            }
            if (!line.EndsWith(';'))
                throw Unexpected(lines, n, "an instruction ending in ';', a label or a declaration");
            k.Code.Add(PtxInstructionParser.Parse(line[..^1].Trim(), registers, lines, n));
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
