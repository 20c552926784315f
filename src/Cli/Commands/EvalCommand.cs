using System.CommandLine;
using System.Text.Json;
using Tessera.Engine.Threading;
using Tessera.Models.Recipes;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera eval CHECKPOINT</c>: rebuilds the checkpoint's recipe, loads it and evaluates every task on its test batches.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A checkpoint.safetensors written by 'tessera train'." };
        var batches = CliOptions.PositiveCount("--batches", "Test batches per task (default: the recipe's eval_batches).");
        var output = new Option<string?>("--out") { Description = "Output folder for metrics.json (default: an 'eval' folder beside the checkpoint)." };
        var device = new Option<string>("--device") { Description = "Where to evaluate: cpu, cuda or cuda-emu (see train --device).", DefaultValueFactory = _ => "cpu" };
        var threads = CliOptions.Threads();
        var command = new Command("eval", "Evaluate a training checkpoint on the test batches of its tasks; print the metrics as one JSON line and write them to metrics.json.")
        {
            checkpoint, batches, output, device, threads,
        };
        command.SetAction(parse =>
        {
            var target = TrainCommand.ParseDevice(parse.GetValue(device));
            CpuParallel.MaxThreads = parse.GetValue(threads);
            string path = parse.GetValue(checkpoint)!;
            string folder = parse.GetValue(output) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "eval");
            string json = JsonSerializer.Serialize(CheckpointEvaluation.Run(path, folder, parse.GetValue(batches), target));
            Console.WriteLine(json);
            return 0;
        });
        return command;
    }
}
