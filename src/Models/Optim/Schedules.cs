namespace Tessera.Models.Optim;

/// <summary>
/// A learning-rate multiplier as a function of the step (0-based), applied to each group's
/// initial learning rate. Schedules compose: <see cref="Warmup"/> wraps any other.
/// Formulas follow torch.optim.lr_scheduler's closed forms.
/// </summary>
public abstract class Schedule
{
    public abstract double Factor(long step);

    /// <summary>Constant 1.</summary>
    public static Schedule Constant() => new FunctionSchedule(_ => 1.0);

    /// <summary>CosineAnnealingLR: minFactor + (1 - minFactor)(1 + cos(π t / T)) / 2, held at minFactor after T (torch instead swings back up).</summary>
    public static Schedule Cosine(long totalSteps, double minFactor = 0.0)
    {
        Positive(totalSteps, nameof(totalSteps));
        return new FunctionSchedule(t => minFactor + (1 - minFactor) * (1 + Math.Cos(Math.PI * Math.Min(t, totalSteps) / totalSteps)) / 2);
    }

    /// <summary>MultiStepLR: multiplied by gamma at each milestone passed.</summary>
    public static Schedule MultiStep(IReadOnlyList<long> milestones, double gamma = 0.1)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        var sorted = milestones.Order().ToArray();
        return new FunctionSchedule(t => Math.Pow(gamma, sorted.Count(m => m <= t)));
    }

    /// <summary>PolynomialLR: (1 - min(t, T) / T)^power.</summary>
    public static Schedule Poly(long totalSteps, double power = 1.0)
    {
        Positive(totalSteps, nameof(totalSteps));
        return new FunctionSchedule(t => Math.Pow(1 - (double)Math.Min(t, totalSteps) / totalSteps, power));
    }

    /// <summary>LinearLR: from startFactor to endFactor over totalSteps, then endFactor.</summary>
    public static Schedule Linear(double startFactor, double endFactor, long totalSteps)
    {
        Positive(totalSteps, nameof(totalSteps));
        return new FunctionSchedule(t => startFactor + (endFactor - startFactor) * Math.Min(t, totalSteps) / totalSteps);
    }

    /// <summary>Linear warmup from startFactor to 1 over warmupSteps, then <paramref name="after"/> (its step counted from the end of warmup).</summary>
    public static Schedule Warmup(long warmupSteps, Schedule after, double startFactor = 0.0)
    {
        ArgumentNullException.ThrowIfNull(after);
        Positive(warmupSteps, nameof(warmupSteps));
        return new FunctionSchedule(t => t < warmupSteps ? startFactor + (1 - startFactor) * t / warmupSteps : after.Factor(t - warmupSteps));
    }

    private static void Positive(long value, string name)
    {
        if (value < 1)
            throw new ArgumentOutOfRangeException(name, value, $"schedule: '{name}' expected at least 1 step, found {value}");
    }

    private sealed class FunctionSchedule(Func<long, double> factor) : Schedule
    {
        public override double Factor(long step) => factor(step);
    }
}

/// <summary>Drives an optimiser's group learning rates from a <see cref="Schedule"/>; call <see cref="Step"/> after each optimiser step.</summary>
public sealed class LearningRateScheduler
{
    private readonly Optimizer _optimizer;
    private readonly Schedule _schedule;

    public LearningRateScheduler(Optimizer optimizer, Schedule schedule)
    {
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        Apply();
    }

    /// <summary>Scheduler steps taken (saved in checkpoints).</summary>
    public long StepCount { get; private set; }

    public void Step()
    {
        StepCount++;
        Apply();
    }

    /// <summary>Restores the step count (from a checkpoint) and the learning rates it implies.</summary>
    public void Restore(long stepCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        StepCount = stepCount;
        Apply();
    }

    private void Apply()
    {
        double factor = _schedule.Factor(StepCount);
        foreach (var group in _optimizer.Groups)
            group.LearningRate = (float)(group.InitialLearningRate * factor);
    }
}
