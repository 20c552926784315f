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
        try
        {
            // Our handler below, not System.CommandLine's default one (which prints a stack trace).
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
        {
            WriteError(e.Message);
            return 1;
        }
    }

    private static bool NoColor => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>"error: MESSAGE" on stderr, the word in red only on a terminal without NO_COLOR.</summary>
    internal static void WriteError(string message)
    {
        bool colour = !Console.IsErrorRedirected && !NoColor;
        Console.Error.WriteLine(colour ? $"\u001b[31merror:\u001b[0m {message}" : $"error: {message}");
    }
}
