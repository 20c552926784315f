using System.Diagnostics;
using System.Text.Json;

namespace Tessera.Models.Training;

/// <summary>Where a run writes and how it checkpoints.</summary>
/// <param name="OutputFolder">runs/NAME: checkpoint.safetensors, model.safetensors, log.jsonl, curves, report, metrics.json.</param>
/// <param name="Steps">Train until the trainer's step reaches this.</param>
/// <param name="CheckpointEvery">Checkpoint every this many steps (0: only at the end).</param>
/// <param name="ResumeFrom">A checkpoint to continue from, or null to start fresh.</param>
public sealed record RunSettings(string OutputFolder, long Steps, int CheckpointEvery, string? ResumeFrom = null);

/// <summary>Progress of a run, for progress bars.</summary>
public sealed record RunProgress(long Step, long TotalSteps, double Loss, double ImagesPerSecond, string? Skipped);

/// <summary>
/// One training run end to end: optional resume, the step loop with the JSON-lines log and
/// periodic atomic checkpoints, then evaluation, the final checkpoint and weights, curves, the
/// report, and metrics.json (atomic). The final metrics are returned for the caller to print
/// as one JSON line.
/// </summary>
public sealed class TrainingRun
{
    private readonly MultiTaskTrainer _trainer;
    private readonly string _name;
    private readonly string _recipeJson;
    private readonly RunSettings _settings;

    public TrainingRun(MultiTaskTrainer trainer, string name, string recipeJson, RunSettings settings)
    {
        _trainer = trainer ?? throw new ArgumentNullException(nameof(trainer));
        _name = name;
        _recipeJson = recipeJson;
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
    }

    public string CheckpointPath => Path.Combine(_settings.OutputFolder, "checkpoint.safetensors");

    public string MetricsPath => Path.Combine(_settings.OutputFolder, "metrics.json");

    /// <summary>What a failed run leaves to continue from: the last checkpoint (never overwritten by the failed step's state), or that there is none.</summary>
    private string CheckpointNote(long failedStep)
    {
        if (File.Exists(CheckpointPath))
            return $"The last good checkpoint, '{CheckpointPath}' (step {Checkpoint.ReadStep(CheckpointPath)}), is kept: nothing from step {failedStep} on was saved";
        return $"No checkpoint was written before step {failedStep} (checkpoint_every = {_settings.CheckpointEvery}), and none was written after it";
    }

    /// <summary>Runs to the end; <paramref name="onStep"/> after each step.</summary>
    public Dictionary<string, object> Run(Action<RunProgress>? onStep = null)
    {
        Directory.CreateDirectory(_settings.OutputFolder);
        if (_settings.ResumeFrom is not null)
            Checkpoint.Restore(_settings.ResumeFrom, _trainer);
        long firstStep = _trainer.Step;
        var clock = Stopwatch.StartNew();
        var window = new Queue<double>();
        double lastLoss = double.NaN;
        using (var log = new RunLog(Path.Combine(_settings.OutputFolder, "log.jsonl"), firstStep))
        {
            long images = 0;
            while (_trainer.Step < _settings.Steps)
            {
                double learningRate = _trainer.Optimizer.Groups[0].LearningRate;
                StepResult result;
                try
                {
                    result = _trainer.RunStep();
                }
                catch (NonFiniteLossException e)
                {
                    throw new NonFiniteLossException(e.Message + ". " + CheckpointNote(e.Step)) { Step = e.Step, Task = e.Task };
                }
                images += result.Images;
                double throughput = images / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                log.Write(result, learningRate, throughput);
                if (result.Skipped is null)
                {
                    window.Enqueue(result.Loss);
                    if (window.Count > 10) window.Dequeue();
                    lastLoss = window.Average();
                }
                if (_settings.CheckpointEvery > 0 && _trainer.Step % _settings.CheckpointEvery == 0 && _trainer.Step < _settings.Steps)
                    Checkpoint.Save(CheckpointPath, _trainer, _recipeJson);
                onStep?.Invoke(new RunProgress(_trainer.Step, _settings.Steps, result.Loss, throughput, result.Skipped));
            }
        }
        double trainSeconds = clock.Elapsed.TotalSeconds;
        Checkpoint.Save(CheckpointPath, _trainer, _recipeJson);
        WeightsFile.Save(Path.Combine(_settings.OutputFolder, "model.safetensors"), _trainer.Model);

        var metrics = new Dictionary<string, object>(StringComparer.Ordinal);
        var evaluation = _trainer.Evaluate();
        var taskNames = _trainer.Model.Tasks.Select(t => t.Name).ToList();
        foreach (var (key, value) in evaluation.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            // With one task, its metrics also go unprefixed ({"top1": ...}), as scripts expect.
            if (taskNames.Count == 1 && !key.EndsWith("/loss", StringComparison.Ordinal)) metrics[key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..]] = Math.Round(value, 4);
        }
        if (!double.IsNaN(lastLoss)) metrics["loss"] = Math.Round(lastLoss, 4);
        foreach (var (key, value) in evaluation.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (taskNames.Count > 1) metrics[key] = Math.Round(value, 4);
        metrics["steps"] = _trainer.Step;
        metrics["seconds"] = Math.Round(trainSeconds, 1);
        AtomicFile.WriteAllText(MetricsPath, JsonSerializer.Serialize(metrics) + Environment.NewLine);
        RunReport.Write(_settings.OutputFolder, _name, Path.Combine(_settings.OutputFolder, "log.jsonl"), metrics, _recipeJson);
        return metrics;
    }
}
