using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Distributed;
using Tessera.Engine.Threading;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using Tessera.Models.Training.Distributed;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>tessera train RECIPE [key=value...]</c>: builds the recipe's model, trains it with the SIMT
/// multi-task trainer (progress bar, log.jsonl, checkpoints, report) and prints its final
/// metrics as one JSON line (also written to OUT/metrics.json).
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var recipe = new Argument<string>("recipe") { Description = "A recipe name from recipes/ (demo, shapes-simt, ...) or the path of a recipe JSON file." };
        var overrides = new Argument<string[]>("overrides") { Description = "Recipe fields to override, as key=value with dotted paths: optimizer.lr=0.1 devices=4 tasks.0.weight=2.", Arity = ArgumentArity.ZeroOrMore };
        var steps = CliOptions.PositiveCount("--steps", "Optimiser steps (recipe field 'steps').");
        var batch = new Option<int?>("--batch") { Description = "Images per device per step for tasks without their own batch (recipe field 'batch')." };
        var size = new Option<int?>("--size") { Description = "Input size in pixels for tasks without their own size (recipe field 'size')." };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for initialisation, task sampling and data; same seed, same run (recipe field 'seed')." };
        var output = new Option<string?>("--out") { Description = "Output folder (default: runs/<recipe name>): checkpoint, weights, log.jsonl, curves, report, metrics.json." };
        var device = new Option<string>("--device") { Description = "Where to train: cpu, cuda (an NVIDIA GPU; an error when there is none) or cuda-emu (the CUDA backend on the PTX emulator: slow, for checking; use a small --size/--batch).", DefaultValueFactory = _ => "cpu" };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint (default: OUT/checkpoint.safetensors); the run continues exactly as if never stopped.", Arity = ArgumentArity.ZeroOrOne };
        var threads = CliOptions.Threads();
        var quiet = new Option<bool>("--quiet") { Description = "No progress bar; only the final JSON line." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run already in the --out folder (without it, a folder that holds a run is refused: use --resume or a new --out)." };
        var distributed = new Option<bool>("--distributed") { Description = "Under mpirun: deal the recipe's virtual devices to the ranks (same results as one process; rank 0 writes the run). mpirun -np N tessera train RECIPE --distributed; docs/DISTRIBUTED.md." };
        var resourceLog = new Option<string?>("--resource-log") { Description = "Append the process's memory (RSS, GC heap, pool), open files and threads to this CSV every --resource-interval seconds (soak tests; docs/RELIABILITY.md)." };
        var resourceInterval = CliOptions.PositiveCount("--resource-interval", "Seconds between --resource-log samples (default 10).");
        var data = new Option<string?>("--data") { Description = "The folder of images for recipes that read one (train folder): one subfolder per class, optionally under train/ and val/ (docs/DATA.md)." };
        var model = new Option<string?>("--model") { Description = "Backbone type (recipe field 'model.type'): small-cnn, resnet-narrow, ..." };
        var command = new Command("train", "Train a model from a recipe; print its final metrics as one JSON line and write runs/<name>/{metrics.json, log.jsonl, report.md, report.html, checkpoint.safetensors}.")
        {
            recipe, overrides, steps, batch, size, seed, output, device, resume, threads, quiet, overwrite, distributed, data, model, resourceLog, resourceInterval,
        };
        command.SetAction(parse =>
        {
            if (!parse.GetValue(distributed)) return Train(parse, null);
            using var world = MpiCommunicator.World();
            return DistributedRun.Guard(world, () => Train(parse, world));
        });
        return command;

        int Train(ParseResult parse, ICommunicator? world)
        {
            var target = ParseDevice(parse.GetValue(device));
            CpuParallel.MaxThreads = parse.GetValue(threads);
            var items = (parse.GetValue(overrides) ?? []).ToList();
            if (parse.GetValue(steps) is int s) items.Add($"steps={s}");
            if (parse.GetValue(batch) is int b) items.Add($"batch={b}");
            if (parse.GetValue(size) is int z) items.Add($"size={z}");
            if (parse.GetValue(seed) is ulong e) items.Add($"seed={e}");
            if (parse.GetValue(model) is string m) items.Add($"model.type={m}");
            var loaded = RecipeLoader.Load(RecipeLoader.Locate(parse.GetValue(recipe)!), items);
            if (parse.GetValue(data) is string folder) SetDataFolder(loaded, folder);
            string outputFolder = parse.GetValue(output) ?? Path.Combine("runs", loaded.Name.Length > 0 ? loaded.Name : Path.GetFileNameWithoutExtension(parse.GetValue(recipe)!));
            string? resumeFrom = null;
            bool resuming = parse.GetResult(resume) is not null;
            if (resuming && parse.GetValue(overwrite))
                throw new ArgumentException("--resume and --overwrite: expected at most one of them (continue the run in --out, or replace it), found both");
            // Distributed, only rank 0 writes the run folder, so only rank 0 claims it.
            using var claim = world is null || world.Rank == 0
                ? RunFolder.Claim(outputFolder, resuming ? RunFolderMode.Resume : parse.GetValue(overwrite) ? RunFolderMode.Overwrite : RunFolderMode.Fresh)
                : null;
            if (StagedSystems.FirstOrDefault(system => system.Handles(loaded)) is { } staged)
            {
                if (world is not null)
                    throw new ArgumentException($"--distributed: {staged.Name} recipes run their own stages in one process (no SIMT trainer); train them without --distributed");
                return RunStaged(staged, loaded, outputFolder, resuming, parse.GetValue(quiet), target);
            }
            if (parse.GetResult(resume) is not null)
            {
                resumeFrom = parse.GetValue(resume) ?? Path.Combine(outputFolder, "checkpoint.safetensors");
                CheckSameRecipe(resumeFrom, loaded);
                if (!Tessera.Engine.Serialization.SafeTensors.Verify(resumeFrom).HasDigests && (world is null || world.Rank == 0))
                    Console.Error.WriteLine($"note: '{resumeFrom}' has no digests (written by an older Tessera or another tool): its bytes could not be verified");
            }
            using var sampler = parse.GetValue(resourceLog) is { } logPath
                ? new ResourceSampler(logPath, TimeSpan.FromSeconds(parse.GetValue(resourceInterval) ?? 10))
                : null;
            return Run(loaded, outputFolder, resumeFrom, parse.GetValue(quiet) || world is { Rank: > 0 }, target, world, sampler);
        }
    }

    /// <summary>The --device value as a device that can run here; cuda without a GPU is an error naming why (never a silent fallback).</summary>
    internal static Device ParseDevice(string? text)
    {
        var device = Device.Parse(text ?? "cpu");
        if (device.IsGpu && !GpuContext.IsAvailable(device, out string reason))
            throw new ArgumentException($"--device: '{device}' is not available here: {reason}. Use --device cuda-emu to run the CUDA backend on the PTX emulator, or --device cpu.");
        return device;
    }

    /// <summary>
    /// Points every task that reads files at <paramref name="folder"/> (stored as a full path, so
    /// 'tessera eval' finds it from any folder); a recipe without such a task is an error.
    /// </summary>
    private static void SetDataFolder(Recipe recipe, string folder)
    {
        var readers = recipe.Tasks.Where(t => RecipeCatalog.DataSources.ContainsKey(t.Source)).ToList();
        if (readers.Count == 0)
            throw new ArgumentException($"--data: recipe '{recipe.Name}' has no task that reads a folder (sources: {string.Join(", ", recipe.Tasks.Select(t => t.Source))}); use 'tessera train folder --data DIR'");
        foreach (var task in readers) task.Data = Path.GetFullPath(folder);
    }

    /// <summary>
    /// Runs the one-time preparation of file-reading sources (decoding every image) before training,
    /// with a progress bar, and reports what it found: a summary line, warnings for skipped files on
    /// stderr, and OUT/skipped-images.txt listing them.
    /// </summary>
    private static void PrepareSources(MultiTaskTrainer trainer, string outputFolder, bool quiet)
    {
        foreach (var task in trainer.Model.Tasks)
        {
            if (task.Source is not IPreparedSource prepared) continue;
            if (quiet)
                prepared.Prepare(task.InputSize);
            else
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .Start(context =>
                    {
                        var bar = context.AddTask($"{task.Name}: decoding images");
                        prepared.Prepare(task.InputSize, (done, total) =>
                        {
                            bar.MaxValue = Math.Max(1, total);
                            bar.Value = done;
                        });
                    });
            if (!quiet && prepared.PreparationSummary is string summary) AnsiConsole.MarkupLineInterpolated($"{task.Name}: {summary}");
            foreach (var warning in prepared.PreparationWarnings) Console.Error.WriteLine($"warning: {task.Name}: {warning}");
            string skippedList = Path.Combine(outputFolder, "skipped-images.txt");
            if (File.Exists(skippedList)) File.Delete(skippedList);
            if (task.Source is Tessera.Models.Data.Folder.ImageFolderSource folder && (folder.Skipped.Count > 0 || folder.Index.NonImageFiles.Count > 0))
                AtomicFile.WriteAllText(Path.Combine(outputFolder, "skipped-images.txt"), string.Join(Environment.NewLine,
                    folder.Skipped.Select(s => $"{s.Reason}\t{s.Message}").Concat(folder.Index.NonImageFiles.Select(f => $"NotAnImage\t{f}"))) + Environment.NewLine);
        }
    }

    /// <summary>A resumed run must use the checkpoint's recipe (only 'steps' may grow), or it would not continue the same run.</summary>
    private static void CheckSameRecipe(string checkpointPath, Recipe recipe)
    {
        var stored = JsonNode.Parse(Checkpoint.ReadRecipe(checkpointPath)) as JsonObject;
        var current = (JsonObject)JsonNode.Parse(RecipeLoader.ToJson(recipe))!;
        var differing = current.Select(p => p.Key).Where(k => k != "steps" && !JsonNode.DeepEquals(stored?[k], current[k])).ToList();
        if (differing.Count > 0)
            throw new ArgumentException($"--resume: the checkpoint '{checkpointPath}' was written with a different recipe (fields differ: {string.Join(", ", differing)}); resume with the same recipe and overrides, or train into a new --out folder");
    }

    /// <summary>A paper system whose recipes run their own stages in one go (no SIMT trainer, no step checkpoints, CPU only).</summary>
    private sealed record StagedSystem(string Name, Func<Recipe, bool> Handles, Func<Recipe, string, Action<string>?, Dictionary<string, object>> Run);

    /// <summary>Every staged system: the first whose Handles accepts a recipe runs it.</summary>
    private static readonly StagedSystem[] StagedSystems =
    [
        new("INTERN", Tessera.Models.Systems.Intern.InternTraining.Handles, Tessera.Models.Systems.Intern.InternTraining.Run),
        new("HVP-MTL", Tessera.Models.Systems.HvpMtl.HvpMtlTraining.Handles, Tessera.Models.Systems.HvpMtl.HvpMtlTraining.Run),
        new("EVA", Tessera.Models.Systems.Eva.EvaTraining.Handles, Tessera.Models.Systems.Eva.EvaTraining.Run),
        new("X-Learner", Tessera.Models.Systems.XLearner.XLearnerTraining.Handles, Tessera.Models.Systems.XLearner.XLearnerTraining.Run),
    ];

    private static int RunStaged(StagedSystem system, Recipe recipe, string outputFolder, bool resume, bool quiet, Device device)
    {
        if (device.IsGpu)
            throw new ArgumentException($"--device: {system.Name} recipes train on the CPU in this build, found '{device}'; use --device cpu");
        if (resume)
            throw new ArgumentException($"--resume: {system.Name} recipes run their stages in one go and write no step checkpoints; start the run again with --overwrite (or into a new --out), without --resume");
        var metrics = system.Run(recipe, outputFolder, quiet ? null : line => AnsiConsole.MarkupLineInterpolated($"{line}"));
        Console.WriteLine(JsonSerializer.Serialize(metrics));
        return 0;
    }

    private static int Run(Recipe recipe, string outputFolder, string? resumeFrom, bool quiet, Device device, ICommunicator? world, ResourceSampler? sampler)
    {
        var build = RecipeCatalog.Build(recipe);
        build = build with { Options = build.Options with { Device = device, Communicator = world ?? SingleProcessCommunicator.Instance } };
        MultiTaskTrainer trainer;
        if (world is null)
        {
            trainer = build.CreateTrainer();
        }
        else
        {
            // A setup error on one rank (a bad recipe, more ranks than devices) stops every rank with its message.
            MultiTaskTrainer? created = null;
            Exception? error = null;
            try
            {
                created = build.CreateTrainer();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException)
            {
                error = e;
            }
            DistributedRun.ShareSetup(world, error);
            trainer = created!;
            DistributedRun.OnTerminate(world, Path.Combine(outputFolder, "checkpoint.safetensors"));
        }
        PrepareSources(trainer, outputFolder, quiet);
        var run = new TrainingRun(trainer, recipe.Name, RecipeLoader.ToJson(recipe), new RunSettings(outputFolder, recipe.Steps, recipe.CheckpointEvery, resumeFrom));
        Dictionary<string, object> metrics;
        Interrupts.Graceful = true;
        try
        {
            metrics = RunWithProgress(run, recipe, build, quiet, device, world, sampler);
        }
        catch (RunInterruptedException stopped)
        {
            Interrupts.RestoreTerminal();
            Console.Error.WriteLine($"{stopped.Message}. Continue with: {ResumeCommand(outputFolder)}");
            return Interrupts.ExitCode;
        }
        finally
        {
            Interrupts.Graceful = false;
        }
        if (world is not null) DistributedRun.ReportCommunication(world, trainer, run.TrainSeconds, trainer.Step - run.FirstStep);
        if (world is null || world.Rank == 0) Console.WriteLine(JsonSerializer.Serialize(metrics));
        return 0;
    }

    /// <summary>This process's command line with --resume (and --out), without --overwrite: the command that continues the run.</summary>
    internal static string ResumeCommand(string outputFolder)
    {
        var args = new List<string>();
        var given = CliRunner.CommandLine;
        for (int i = 0; i < given.Count; i++)
        {
            if (given[i] is "--overwrite") continue;
            if (given[i] is "--resume")
            {
                if (i + 1 < given.Count && !given[i + 1].StartsWith('-') && given[i + 1].EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) i++;
                continue;
            }
            args.Add(given[i]);
        }
        if (!given.Contains("--out")) args.AddRange(["--out", outputFolder]);
        args.Add("--resume");
        return "tessera " + string.Join(' ', args.Select(Quote));
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@".Contains(c, StringComparison.Ordinal)) ? arg : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static Dictionary<string, object> RunWithProgress(TrainingRun run, Recipe recipe, RecipeBuild build, bool quiet, Device device, ICommunicator? world, ResourceSampler? sampler)
    {
        Dictionary<string, object> metrics;
        var cancel = Interrupts.Token;
        if (quiet)
        {
            metrics = run.Run(sampler is null ? null : progress => sampler.Step = progress.Step, cancel);
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated($"[bold]{recipe.Name}[/]: {recipe.Description} ({recipe.Tasks.Count} task(s), {recipe.Devices} virtual device(s), {build.Model.ParameterCount():N0} parameters, on {device}, {CpuParallel.MaxThreads} threads{(world is null ? "" : $", {world.Size} ranks over {world.Description}")})");
            metrics = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("training", maxValue: recipe.Steps);
                    metrics = run.Run(progress =>
                    {
                        task.Value = progress.Step;
                        if (sampler is not null) sampler.Step = progress.Step;
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"step {progress.Step}/{progress.TotalSteps} loss {progress.Loss:F4} {progress.ImagesPerSecond:F0} img/s{(progress.Skipped is null ? "" : " (skipped)")}");
                    }, cancel);
                });
        }
        return metrics;
    }
}
