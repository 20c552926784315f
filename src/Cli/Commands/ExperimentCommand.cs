using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Tessera.Engine.Threading;
using Tessera.Models.Experiments;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>tessera experiment NAME [--quick | --long] [--seeds N] [--out DIR] [--page FILE] [--reuse-seeds]</c>: runs a paper's
/// reduced-scale comparison end to end and writes docs/results/NAME.md (ours next to the paper's);
/// <c>--long</c> runs the heavier documented setting into docs/results/long/NAME.md.
/// </summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "The experiment: " + string.Join(", ", ExperimentCatalog.All.Select(e => $"{e.Name} ({e.Description})")) };
        var quick = new Option<bool>("--quick") { Description = "Smoke-test scale (a few minutes); writes its page into the output folder, not docs/results." };
        var longScale = new Option<bool>("--long") { Description = "The heavier documented setting: the smallest changes that could separate the default scale's ties (1.5-3x the default's time; " + string.Join(", ", ExperimentCatalog.All.Where(e => e.LongScale is not null).Select(e => e.Name)) + "); writes docs/results/long/NAME.md, set beside the default verdicts in the ledger." };
        var seeds = new Option<int?>("--seeds") { Description = "Seeds per table cell (default: the experiment's own)." };
        var output = new Option<string?>("--out") { Description = "Output folder for logs and raw results (default: runs/experiment-NAME[-quick|-long])." };
        var page = new Option<string?>("--page") { Description = "Results page to write (default: docs/results/NAME.md; docs/results/long/NAME.md with --long; OUT/NAME.md with --quick)." };
        var reuse = new Option<bool>("--reuse-seeds") { Description = "Reuse per-seed results saved in the output folder by an earlier run with the same settings (xlearner and gppf save them); the page names the commit that trained each reused seed." };
        var threads = CliOptions.Threads();
        var command = new Command("experiment", "Reproduce a paper's comparison at reduced scale and write its results page (docs/results/NAME.md).")
        {
            name, quick, longScale, seeds, output, page, reuse, threads,
        };
        command.SetAction(parse =>
        {
            CpuParallel.MaxThreads = parse.GetValue(threads);
            var experiment = ExperimentCatalog.Find(parse.GetValue(name)!);
            bool isQuick = parse.GetValue(quick), isLong = parse.GetValue(longScale);
            if (isQuick && isLong)
                throw new ArgumentException("--quick and --long: expected at most one scale, found both; drop one");
            if (isLong && experiment.LongScale is null)
                throw new ArgumentException($"--long: experiment '{experiment.Name}' has no long scale; experiments with one: {string.Join(", ", ExperimentCatalog.All.Where(e => e.LongScale is not null).Select(e => e.Name))}");
            if (parse.GetValue(seeds) is int n && n < 1)
                throw new ArgumentException($"--seeds: expected at least 1, found {n}");
            string folder = parse.GetValue(output) ?? Path.Combine("runs", $"experiment-{experiment.Name}{(isQuick ? "-quick" : isLong ? "-long" : "")}");
            string resultsPage = parse.GetValue(page) ?? (isQuick ? Path.Combine(folder, experiment.Name + ".md")
                : isLong ? Path.Combine("docs", "results", ResultsLedger.LongFolder, experiment.Name + ".md")
                : Path.Combine("docs", "results", experiment.Name + ".md"));
            Directory.CreateDirectory(folder);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(resultsPage))!);
            RunProvenance.MarkStart();
            var started = DateTime.UtcNow;
            var options = new ExperimentOptions(isQuick, parse.GetValue(seeds), folder, resultsPage,
                line => AnsiConsole.MarkupLineInterpolated($"[grey]{(DateTime.UtcNow - started):hh\\:mm\\:ss}[/] {line}"), parse.GetValue(reuse), isLong);
            var headline = experiment.Run(options);
            AnsiConsole.MarkupLineInterpolated($"[bold]{experiment.Name}[/]: wrote {resultsPage} in {(DateTime.UtcNow - started).TotalMinutes:F1} min");
            // The ledger beside the page stays current: it is rebuilt from every record in that folder
            // (a quick run's folder holds only its own record, so CI exercises the generator too).
            // A long run's page sits in results/long/: the ledger it feeds is the parent folder's.
            string pageFolder = Path.GetDirectoryName(Path.GetFullPath(resultsPage))!;
            if (isLong && string.Equals(Path.GetFileName(pageFolder), ResultsLedger.LongFolder, StringComparison.Ordinal))
                pageFolder = Path.GetDirectoryName(pageFolder)!;
            string ledger = ResultsLedger.Write(pageFolder);
            AnsiConsole.MarkupLineInterpolated($"[bold]{experiment.Name}[/]: regenerated {ledger}");
            Console.WriteLine(JsonSerializer.Serialize(headline));
            return 0;
        });
        return command;
    }
}
