using System.Diagnostics;
using System.Text.Json;
using Tessera.Models.Training.Distributed;

namespace Tessera.Models.Training;

/// <summary>Where a run writes and how it checkpoints.</summary>
/// <param name="OutputFolder">runs/NAME: checkpoint.safetensors, model.safetensors, log.jsonl, curves, report, metrics.json.</param>
/// <param name="Steps">Train until the trainer's step reaches this.</param>
/// <param name="CheckpointEvery">Checkpoint every this many steps (0: only at the end).</param>
/// <param name="ResumeFrom">A checkpoint to continue from, or null to start fresh.</param>
public sealed record RunSettings(string OutputFolder, long Steps, int CheckpointEvery, string? ResumeFrom = null);

/// <summary>A run stopped on request after a whole step, with its checkpoint written.</summary>
public sealed class RunInterruptedException : OperationCanceledException
{
    public RunInterruptedException(long step, long totalSteps, string checkpointPath)
        : base($"interrupted at step {step} of {totalSteps}; checkpoint saved to '{checkpointPath}'")
    {
        Step = step;
        TotalSteps = totalSteps;
        CheckpointPath = checkpointPath;
    }

    /// <summary>Steps done (and in the checkpoint).</summary>
    public long Step { get; }

    public long TotalSteps { get; }

    public string CheckpointPath { get; }
}

/// <summary>Progress of a run, for progress bars.</summary>
public sealed record RunProgress(long Step, long TotalSteps, double Loss, double ImagesPerSecond, string? Skipped);

/// <summary>
/// One training run end to end: optional resume, the step loop with the JSON-lines log and
/// periodic atomic checkpoints, then evaluation, the final checkpoint and weights, curves, the
/// report, and metrics.json (atomic). The final metrics are returned for the caller to print
/// as one JSON line. Distributed (the trainer's communicator spans several ranks), every rank runs
/// the steps, the ranks first check that they start the same recipe, code and step, and only rank 0
/// writes (log, checkpoints, weights, evaluation, report, metrics); the other ranks return an empty
/// dictionary.
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

    /// <summary>The step the loop started from (after a resume).</summary>
    public long FirstStep { get; private set; }

    /// <summary>Seconds this process's step loop took (set by <see cref="Run"/>; the run's total in metrics.json also counts earlier resumed parts).</summary>
    public double TrainSeconds { get; private set; }

    /// <summary>
    /// Runs to the end; <paramref name="onStep"/> after each step. When <paramref name="cancel"/>
    /// fires, the current step is finished, a checkpoint is written and
    /// <see cref="RunInterruptedException"/> says where (the run resumes from it exactly).
    /// Under MPI every rank trains; only rank 0 writes the run folder.
    /// </summary>
    public Dictionary<string, object> Run(Action<RunProgress>? onStep = null, CancellationToken cancel = default)
    {
        var communicator = _trainer.Options.Communicator;
        bool writes = communicator.Rank == 0;
        if (writes) Directory.CreateDirectory(_settings.OutputFolder);
        // Training time accumulates over resumes: the checkpoint carries the seconds before it.
        double earlierSeconds = 0;
        if (_settings.ResumeFrom is not null)
        {
            Checkpoint.Restore(_settings.ResumeFrom, _trainer);
            earlierSeconds = Checkpoint.ReadTrainSeconds(_settings.ResumeFrom);
        }
        if (_trainer.IsDistributed)
            RankAgreement.Check(communicator,
            [
                ("recipe", RankAgreement.Hash(_recipeJson), "start every rank with the same recipe and overrides"),
                ("code version", RankAgreement.CodeHash(), "every rank must run the same Tessera build (copy the same build to every machine)"),
                ("step", _trainer.Step, "every rank must resume from the same checkpoint (put the run folder on a file system every machine sees)"),
            ]);
        long firstStep = FirstStep = _trainer.Step;
        var clock = Stopwatch.StartNew();
        double Seconds() => earlierSeconds + clock.Elapsed.TotalSeconds;
        string logPath = Path.Combine(_settings.OutputFolder, "log.jsonl");
        using (var log = writes ? new RunLog(logPath, firstStep) : null)
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
                log?.Write(result, learningRate, throughput);
                if (writes && _settings.CheckpointEvery > 0 && _trainer.Step % _settings.CheckpointEvery == 0 && _trainer.Step < _settings.Steps)
                {
                    Checkpoint.Save(CheckpointPath, _trainer, _recipeJson, Seconds());
                    // Test metrics over training for the report (evaluation reads no generator the training uses).
                    EvalLog.Append(_settings.OutputFolder, _trainer.Step, _trainer.Evaluate());
                }
                onStep?.Invoke(new RunProgress(_trainer.Step, _settings.Steps, result.Loss, throughput, result.Skipped));
                if (cancel.IsCancellationRequested && _trainer.Step < _settings.Steps)
                {
                    if (writes) Checkpoint.Save(CheckpointPath, _trainer, _recipeJson, Seconds());
                    throw new RunInterruptedException(_trainer.Step, _settings.Steps, CheckpointPath);
                }
            }
        }
        TrainSeconds = clock.Elapsed.TotalSeconds;
        double trainSeconds = Seconds();
        if (!writes) return new Dictionary<string, object>(StringComparer.Ordinal);
        Checkpoint.Save(CheckpointPath, _trainer, _recipeJson, trainSeconds);
        WeightsFile.Save(Path.Combine(_settings.OutputFolder, "model.safetensors"), _trainer.Model);

        var evaluation = _trainer.Evaluate();
        EvalLog.Append(_settings.OutputFolder, _trainer.Step, evaluation);
        var metrics = RunMetrics.FromEvaluation(evaluation, _trainer.Model.Tasks.Select(t => t.Name).ToList());
        // From the log, not this process's steps, so a resumed (or already finished) run reports it too.
        double trainLoss = RunMetrics.TrainLoss(logPath);
        if (!double.IsNaN(trainLoss)) metrics["train_loss"] = Math.Round(trainLoss, 4);
        metrics["steps"] = _trainer.Step;
        metrics["seconds"] = Math.Round(trainSeconds, 1);
        AtomicFile.WriteAllText(MetricsPath, JsonSerializer.Serialize(metrics) + Environment.NewLine);
        var samples = PredictionSamples.Write(_settings.OutputFolder, _trainer);
        RunReport.Write(_settings.OutputFolder, _name, Path.Combine(_settings.OutputFolder, "log.jsonl"), metrics, _recipeJson, samples);
        return metrics;
    }
}
