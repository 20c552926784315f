using System.CommandLine;

namespace Tessera.Cli.Commands;

/// <summary>Options several verbs share, with their validation (a bad value is a parse error, never silently clamped).</summary>
internal static class CliOptions
{
    /// <summary>--threads N (default: all cores); N must be at least 1.</summary>
    public static Option<int> Threads()
    {
        var option = new Option<int>("--threads") { Description = "CPU threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[0].Value, out int n) && n < 1)
                result.AddError($"--threads: expected at least 1, found {n}");
        });
        return option;
    }

    /// <summary>An optional count that must be at least 1 when given (--batches, --steps...).</summary>
    public static Option<int?> PositiveCount(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[0].Value, out int n) && n < 1)
                result.AddError($"{name}: expected at least 1, found {n}");
        });
        return option;
    }
}
