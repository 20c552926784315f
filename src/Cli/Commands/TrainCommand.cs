using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Tessera.Engine.Threading;
using Tessera.Models.Demo;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera train RECIPE</c>. Today the recipe is <c>demo</c>: a small classifier on procedural images.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var recipe = new Argument<string>("recipe") { Description = "What to train: 'demo' (a small classifier on procedural 16x16 images; about a minute on 2 cores)." };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps.", DefaultValueFactory = _ => 300 };
        var batch = new Option<int>("--batch") { Description = "Images per step.", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong>("--seed") { Description = "Seed for data and initialisation; same seed, same run.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var output = new Option<string>("--out") { Description = "Output folder for metrics.json.", DefaultValueFactory = _ => Path.Combine("runs", "demo") };
        var command = new Command("train", "Train a model from a recipe and print its final metrics as one JSON line.") { recipe, steps, batch, seed, threads, output };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(recipe)!;
            if (name != "demo")
                throw new ArgumentException($"train: unknown recipe '{name}'; available recipes: demo");
            CpuParallel.MaxThreads = Math.Max(1, parse.GetValue(threads));
            var options = new DemoOptions(Steps: parse.GetValue(steps), BatchSize: parse.GetValue(batch), Seed: parse.GetValue(seed));
            return RunDemo(options, parse.GetValue(output)!);
        });
        return command;
    }

    private static int RunDemo(DemoOptions options, string outputFolder)
    {
        var trainer = new DemoTrainer(options);
        AnsiConsole.MarkupLineInterpolated($"[bold]demo[/]: MLP on procedural 16x16 shapes ({string.Join(", ", ShapesDataset.ClassNames)}), {options.Steps} steps of {options.BatchSize}, {CpuParallel.MaxThreads} threads");
        DemoMetrics metrics = null!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("training", maxValue: options.Steps);
                metrics = trainer.Train((step, loss) =>
                {
                    task.Description = $"step {step + 1}/{options.Steps} loss {loss:F4}";
                    task.Increment(1);
                });
            });
        var result = new Dictionary<string, object>
        {
            ["top1"] = Math.Round(metrics.Top1, 4),
            ["loss"] = Math.Round(metrics.FinalLoss, 4),
            ["steps"] = metrics.Steps,
            ["seconds"] = Math.Round(metrics.Seconds, 1),
        };
        string json = JsonSerializer.Serialize(result);
        Directory.CreateDirectory(outputFolder);
        string path = Path.Combine(outputFolder, "metrics.json");
        File.WriteAllText(path + ".tmp", json + Environment.NewLine);
        File.Move(path + ".tmp", path, overwrite: true);
        Console.WriteLine(json);
        return 0;
    }
}
