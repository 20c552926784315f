using System.CommandLine;
using Spectre.Console;

namespace Tessera.Cli.Commands;

/// <summary>
/// Runs the parsed command; turns expected failures (bad arguments, missing files, bad data) into
/// one line on stderr ("error: ...") and exit code 1. Off a terminal (or with NO_COLOR set) no
/// output carries colour codes and nothing is hard-wrapped, so logs and pipes read cleanly.
/// </summary>
internal static class CliRunner
{
    public static int Run(RootCommand root, string[] args)
    {
        if (Console.IsOutputRedirected || NoColor)
        {
            AnsiConsole.Profile.Capabilities.Ansi = !Console.IsOutputRedirected && !NoColor;
            AnsiConsole.Profile.Capabilities.ColorSystem = ColorSystem.NoColors;
        }
        if (Console.IsOutputRedirected)
            AnsiConsole.Profile.Width = 100_000; // no hard wrap in files and pipes
        Interrupts.Install();
        CommandLine = args;
        try
        {
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
            {
                foreach (var error in parsed.Errors)
                    WriteError(Plain(error.Message));
                string verb = parsed.CommandResult.Command == root ? "" : " " + parsed.CommandResult.Command.Name;
                Console.Error.WriteLine($"(see 'tessera{verb} --help')");
                return 2;
            }
            // Our handler below, not System.CommandLine's default one (which prints a stack trace).
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
        {
            WriteError(e.Message);
            return 1;
        }
    }

    /// <summary>The arguments this process was started with (to print the command that resumes an interrupted run).</summary>
    internal static IReadOnlyList<string> CommandLine { get; private set; } = [];

    /// <summary>Parse errors in words a user reads: .NET type names become what the option expects.</summary>
    internal static string Plain(string message)
    {
        foreach (var (type, words) in TypeWords)
            message = message.Replace($"as expected type '{type}'", $"as {words}", StringComparison.Ordinal);
        return message;
    }

    private static readonly (string Type, string Words)[] TypeWords =
    [
        ("System.Nullable`1[System.Int32]", "a whole number"), ("System.Int32", "a whole number"),
        ("System.Nullable`1[System.Int64]", "a whole number"), ("System.Int64", "a whole number"),
        ("System.Nullable`1[System.UInt64]", "a non-negative whole number"), ("System.UInt64", "a non-negative whole number"),
        ("System.Nullable`1[System.Single]", "a number"), ("System.Single", "a number"),
        ("System.Nullable`1[System.Double]", "a number"), ("System.Double", "a number"),
        ("System.Boolean", "true or false"),
    ];

    private static bool NoColor => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>"error: MESSAGE" on stderr, the word in red only on a terminal without NO_COLOR.</summary>
    internal static void WriteError(string message)
    {
        bool colour = !Console.IsErrorRedirected && !NoColor;
        Console.Error.WriteLine(colour ? $"\u001b[31merror:\u001b[0m {message}" : $"error: {message}");
    }
}
