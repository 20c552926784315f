using System.CommandLine;
using Spectre.Console;
using Tessera.Models.Experiments;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>tessera results [--folder docs/results]</c>: regenerates the results ledger (README.md in
/// the folder) from the experiments' JSON records; every <c>tessera experiment</c> run does the
/// same after writing its page.
/// </summary>
internal static class ResultsCommand
{
    public static Command Create()
    {
        var folder = new Option<string>("--folder") { Description = "Results folder holding the experiments' NAME.json records; the ledger is written there as README.md.", DefaultValueFactory = _ => Path.Combine("docs", "results") };
        var command = new Command("results", "Regenerate the results ledger (docs/results/README.md): every paper claim, its verdict and the command that measures it.") { folder };
        command.SetAction(parse =>
        {
            string path = ResultsLedger.Write(parse.GetValue(folder)!);
            AnsiConsole.MarkupLineInterpolated($"results: wrote {path}");
            return 0;
        });
        return command;
    }
}
