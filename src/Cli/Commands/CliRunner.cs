using System.CommandLine;
using Spectre.Console;

namespace Tessera.Cli.Commands;

/// <summary>Runs the parsed command; turns expected failures (bad arguments, missing files, bad data) into one red line and exit code 1.</summary>
internal static class CliRunner
{
    public static int Run(RootCommand root, string[] args)
    {
        try
        {
            // Our handler below, not System.CommandLine's default one (which prints a stack trace).
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 1;
        }
    }
}
