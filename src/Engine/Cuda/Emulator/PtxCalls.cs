using System.Text.RegularExpressions;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>A .func definition: its parameter names (return first, when it has one) and cleaned body lines.</summary>
internal sealed record PFunction(string Name, string? Return, string[] Parameters, List<(string Text, int Line)> Body);

/// <summary>
/// .func and call: the emulator runs calls by expanding them in place, as the ISA's semantics
/// allow (a call passes .param values and returns to the next instruction). Each expansion gets
/// its own registers, labels and local variables; the callee's .param names become the caller's
/// call-scope .param variables (held in local memory); its <c>ret</c> becomes a branch past the
/// expansion. Recursion cannot be expanded and is rejected, as are indirect calls.
/// </summary>
internal static partial class PtxCalls
{
    private const int MaxDepth = 8;

    /// <summary>Body lines of an .entry or .func from its '{' to the matching '}', multi-line call statements joined, call-scope .param variables given unique names.</summary>
    public static List<(string Text, int Line)> Body(string[] lines, ref int n, Func<string, string> clean, ref int scopes)
    {
        var body = new List<(string, int)>();
        var renames = new Stack<Dictionary<string, string>>();
        int depth = 0;
        for (; n < lines.Length; n++)
        {
            string line = clean(lines[n]);
            if (line == "{")
            {
                depth++;
                renames.Push(new Dictionary<string, string>(StringComparer.Ordinal));
                continue;
            }
            if (line == "}")
            {
                depth--;
                renames.Pop();
                if (depth == 0)
                {
                    n++;
                    break;
                }
                continue;
            }
            if (line.Length == 0 || depth == 0)
            {
                if (line.Length > 0)
                    throw PtxParser.Unexpected(lines, n, "'{' opening the body");
                continue;
            }
            int start = n;
            if (line.StartsWith("call", StringComparison.Ordinal))
                while (!line.EndsWith(';') && n + 1 < lines.Length)
                    line += " " + clean(lines[++n]);
            if (depth >= 2 && line.StartsWith(".param ", StringComparison.Ordinal))
            {
                // A call-scope argument: the same name recurs in every call block, so each gets its own.
                string name = Identifier().Matches(line)[^1].Value;
                string unique = $"{name}__s{scopes++}";
                renames.Peek()[name] = unique;
            }
            foreach (Dictionary<string, string> scope in renames)
                line = Substitute(line, scope);
            body.Add((line, start));
        }
        if (depth != 0)
            throw new PtxEmulatorException($"PTX ends inside a body opened before line {n}; a '}}' is missing");
        return body;
    }

    /// <summary>Reads a .func definition (or prototype, returning null) starting at its header line.</summary>
    public static PFunction? Function(string[] lines, ref int n, Func<string, string> clean, ref int scopes)
    {
        string header = clean(lines[n]);
        int start = n;
        // .visible .func (.param .f32 retval) name(   or   .func name(
        string? ret = null;
        string rest = header[(header.IndexOf(".func", StringComparison.Ordinal) + 5)..].Trim();
        if (rest.StartsWith('('))
        {
            int close = rest.IndexOf(')', StringComparison.Ordinal);
            ret = Identifier().Matches(rest[..close])[^1].Value;
            rest = rest[(close + 1)..].Trim();
        }
        string name = rest.Split('(')[0].Trim();
        var parameters = new List<string>();
        bool closed = rest.Contains(')', StringComparison.Ordinal);
        if (closed && rest.TrimEnd().EndsWith(';'))
        {
            n++;
            return null; // a one-line prototype
        }
        while (!closed && ++n < lines.Length)
        {
            string line = clean(lines[n]).TrimEnd(',');
            if (line.StartsWith(')'))
            {
                closed = true;
                if (line.EndsWith(';'))
                {
                    n++;
                    return null;
                }
                break;
            }
            if (line.Length > 0)
                parameters.Add(Identifier().Matches(line.Split('[')[0])[^1].Value);
        }
        if (!closed)
            throw PtxParser.Unexpected(lines, start, "a .func header closed by ')'");
        n++;
        while (n < lines.Length && clean(lines[n]).Length == 0)
            n++;
        if (n < lines.Length && clean(lines[n]) == ";")
        {
            n++;
            return null; // a prototype; the definition comes elsewhere in the module
        }
        return new PFunction(name, ret, [.. parameters], Body(lines, ref n, clean, ref scopes));
    }

    /// <summary>The body with every call replaced by the callee's renamed body.</summary>
    public static List<(string Text, int Line)> Expand(List<(string Text, int Line)> body, IReadOnlyDictionary<string, PFunction> functions, string[] lines, ref int expansions, int depth = 0)
    {
        var result = new List<(string, int)>();
        foreach ((string text, int line) in body)
        {
            if (!text.StartsWith("call", StringComparison.Ordinal) && !(text.StartsWith('@') && text.Contains(" call", StringComparison.Ordinal)))
            {
                result.Add((text, line));
                continue;
            }
            Match m = Call().Match(text);
            if (!m.Success)
                throw PtxParser.Unexpected(lines, line, "a direct, unguarded 'call{.uni} (ret), name, (args);' (guarded and indirect calls are not emulated)");
            string name = m.Groups["name"].Value;
            if (!functions.TryGetValue(name, out PFunction? f))
                throw PtxParser.Unexpected(lines, line, $"a call of a .func defined in the module; '{name}' has no body (an extern function cannot be emulated)");
            if (depth >= MaxDepth)
                throw PtxParser.Unexpected(lines, line, $"calls nested at most {MaxDepth} deep ('{name}' recurses; recursion is not emulated)");
            string[] args = m.Groups["args"].Success ? m.Groups["args"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
            string? ret = m.Groups["ret"].Success ? m.Groups["ret"].Value.Trim() : null;
            if (args.Length != f.Parameters.Length || (ret is null) != (f.Return is null))
                throw PtxParser.Unexpected(lines, line, $"a call of '{name}' with {f.Parameters.Length} argument(s){(f.Return is null ? "" : " and a return value")}");
            int k = expansions++;
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < args.Length; i++)
                map[f.Parameters[i]] = args[i];
            if (f.Return is not null)
                map[f.Return] = ret!;
            var prefixes = new HashSet<string>(StringComparer.Ordinal);
            foreach ((string t, _) in f.Body)
            {
                if (t.StartsWith(".reg ", StringComparison.Ordinal))
                    prefixes.Add(t.TrimEnd(';').Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].Split('<')[0]);
                else if (t.EndsWith(':'))
                    map[t[..^1]] = $"{t[..^1]}__c{k}";
                else if (t.StartsWith(".local ", StringComparison.Ordinal) || t.StartsWith(".shared ", StringComparison.Ordinal) || t.StartsWith(".param ", StringComparison.Ordinal))
                    map.TryAdd(Identifier().Matches(t.Split('[')[0])[^1].Value, $"{Identifier().Matches(t.Split('[')[0])[^1].Value}__c{k}");
            }
            string end = $"Lret__c{k}";
            var callee = new List<(string, int)>();
            foreach ((string t, int l) in f.Body)
            {
                string renamed = Registers().Replace(Substitute(t, map), r => prefixes.Contains(r.Groups[1].Value) ? $"{r.Groups[1].Value}__c{k}_{r.Groups[2].Value}" : r.Value);
                renamed = Ret().Replace(renamed, $"${{guard}}bra {end};");
                callee.Add((renamed, l));
            }
            result.AddRange(Expand(callee, functions, lines, ref expansions, depth + 1));
            result.Add(($"{end}:", line));
        }
        return result;
    }

    private static string Substitute(string text, IReadOnlyDictionary<string, string> map)
        => map.Count == 0 ? text : Identifier().Replace(text, m => map.TryGetValue(m.Value, out string? to) ? to : m.Value);

    [GeneratedRegex(@"(?<![\w$%.])[A-Za-z_$][\w$]*")]
    private static partial Regex Identifier();

    // %prefix + digits (or the bare prefix in a .reg declaration).
    [GeneratedRegex(@"(%[A-Za-z_]+)(\d*)(?![\w$])")]
    private static partial Regex Registers();

    [GeneratedRegex(@"^(?<guard>@!?%[\w$]+ )?ret;$")]
    private static partial Regex Ret();

    [GeneratedRegex(@"^call(\.uni)? *(\((?<ret>[^)]*)\) *, *)?(?<name>[A-Za-z_$][\w$]*) *(, *\((?<args>[^)]*)\))? *;$")]
    private static partial Regex Call();
}
