using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Tessera.Models.Probe;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>tessera probe INPUT</c>: a linear probe (logistic regression, L-BFGS, L2 sweep) on frozen
/// features: INPUT is a features file, or a training checkpoint whose backbone's pooled features
/// of a downstream suite (<c>--suite</c>) are extracted first.
/// </summary>
internal static class ProbeCommand
{
    public static Command Create()
    {
        var features = new Argument<string>("input") { Description = "A training checkpoint (OUT/checkpoint.safetensors of 'tessera train': features are extracted from --suite); a folder of images (ImageFolder layout) with --checkpoint; or a safetensors features file with train.features [N, D] float32 and train.labels [N] int64, optionally val.* and test.* (without val., 20% of train is held out)." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "With a folder of images: the training checkpoint whose backbone gives the features (its val split is the probe's test split)." };
        var suite = new Option<string>("--suite") { Description = "With a checkpoint: the downstream classification suite to probe (down-shapes, down-textures, down-colours).", DefaultValueFactory = _ => "down-shapes" };
        var trainImages = CliOptions.PositiveCount("--train-images", "With a checkpoint: images of the suite's train split to fit on (default 1000).");
        var testImages = CliOptions.PositiveCount("--test-images", "With a checkpoint: images of the suite's test split to score (default 400).");
        var minL2 = new Option<double>("--min-l2") { Description = "Smallest L2 of the log grid.", DefaultValueFactory = _ => 1e-5 };
        var maxL2 = new Option<double>("--max-l2") { Description = "Largest L2 of the log grid.", DefaultValueFactory = _ => 1e-1 };
        var grid = new Option<int>("--grid") { Description = "Grid points between them (log-spaced, inclusive).", DefaultValueFactory = _ => 9 };
        var iterations = new Option<int>("--max-iter") { Description = "L-BFGS iteration cap per fit (at most 1000).", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the held-out validation draw.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output folder for metrics.json.", DefaultValueFactory = _ => Path.Combine("runs", "probe") };
        var command = new Command("probe", "Fit a linear probe on frozen features, choose L2 on validation, print the metrics as one JSON line.")
            { features, checkpoint, suite, trainImages, testImages, minL2, maxL2, grid, iterations, seed, output };
        command.SetAction(parse =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string input = parse.GetValue(features)!;
            ProbeSplit train;
            ProbeSplit? validation = null, test;
            int? classCount = null;
            if (Directory.Exists(input))
            {
                string ckpt = parse.GetValue(checkpoint)
                    ?? throw new ArgumentException($"probe: '{input}' is a folder of images; pass --checkpoint CKPT (a 'tessera train' checkpoint) to extract its features");
                (train, test) = FolderFeatures.Extract(ckpt, input);
            }
            else if (parse.GetValue(checkpoint) is not null)
            {
                throw new ArgumentException($"probe: --checkpoint goes with a folder of images, but '{input}' is not a folder (to probe a world suite, pass the checkpoint itself: tessera probe CKPT --suite down-shapes)");
            }
            else if (CheckpointProbe.IsCheckpoint(input))
            {
                (train, var testSplit, int classes) = CheckpointProbe.Extract(input, parse.GetValue(suite)!, parse.GetValue(trainImages) ?? 1000, parse.GetValue(testImages) ?? 400);
                test = testSplit;
                classCount = classes;
            }
            else
            {
                (train, validation, test) = ProbeFeatureFile.Load(input);
            }
            var options = new LinearProbeOptions
            {
                MinL2 = parse.GetValue(minL2), MaxL2 = parse.GetValue(maxL2), GridSize = parse.GetValue(grid),
                MaxIterations = parse.GetValue(iterations), Seed = parse.GetValue(seed),
            };
            var report = LinearProbe.Run(train, validation, test, options, classCount);
            var table = new Table().AddColumns("L2", "train top-1", "val top-1", "iterations", "converged");
            foreach (var point in report.Sweep)
                table.AddRow(point.L2.ToString("g2", CultureInfo.InvariantCulture), point.TrainAccuracy.ToString("F4", CultureInfo.InvariantCulture),
                    point.ValidationAccuracy.ToString("F4", CultureInfo.InvariantCulture), point.Iterations.ToString(CultureInfo.InvariantCulture), point.Converged ? "yes" : "no");
            AnsiConsole.Write(table);
            string json = JsonSerializer.Serialize(report.ToMetrics(clock.Elapsed.TotalSeconds));
            string folder = parse.GetValue(output)!;
            Directory.CreateDirectory(folder);
            string path = Path.Combine(folder, "metrics.json");
            File.WriteAllText(path + ".tmp", json + Environment.NewLine);
            File.Move(path + ".tmp", path, overwrite: true);
            Console.WriteLine(json);
            return 0;
        });
        return command;
    }
}
