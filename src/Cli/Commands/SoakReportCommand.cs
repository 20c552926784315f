using System.CommandLine;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>tessera soak-report RESOURCES.csv [--warmup MIN] [--out DIR]</c>: summarises a
/// <c>train --resource-log</c> file: growth of RSS, GC heap, pool, open files and threads after
/// warm-up (soak.md) and plots (resources.png, resources.svg). tools/reliability/soak.sh runs both.
/// </summary>
internal static class SoakReportCommand
{
    public static Command Create()
    {
        var csv = new Argument<string>("resources") { Description = "A CSV written by tessera train ... --resource-log PATH." };
        var warmup = new Option<double>("--warmup") { Description = "Minutes at the start left out as warm-up (default 10).", DefaultValueFactory = _ => 10 };
        var window = new Option<double>("--window") { Description = "Minutes averaged at each end to measure growth (default 5).", DefaultValueFactory = _ => 5 };
        var output = new Option<string?>("--out") { Description = "Folder for soak.md, resources.png, resources.svg (default: the CSV's folder)." };
        var command = new Command("soak-report", "Summarise a --resource-log CSV: memory, open files and threads after warm-up (growth in percent) with plots.") { csv, warmup, window, output };
        command.SetAction(parse =>
        {
            double minutes = parse.GetValue(warmup), windowMinutes = parse.GetValue(window);
            if (!(minutes >= 0) || !(windowMinutes > 0))
                throw new ArgumentException($"soak-report: expected --warmup >= 0 and --window > 0 minutes, found {minutes} and {windowMinutes}");
            string path = parse.GetValue(csv)!;
            string folder = parse.GetValue(output) ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
            Console.Write(Tessera.Models.Training.SoakReport.Write(path, folder, minutes * 60, windowMinutes * 60));
            return 0;
        });
        return command;
    }
}
