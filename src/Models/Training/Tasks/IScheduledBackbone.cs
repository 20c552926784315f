namespace Tessera.Models.Training;

/// <summary>
/// A backbone with per-task state and a schedule over training (GPPF's routed backbone: one
/// controller per task, a Gumbel temperature that decays with the step). The recipe builder
/// calls <see cref="Prepare"/> once, before the optimiser collects the parameters; the trainer
/// calls <see cref="OnStep"/> at the start of every step.
/// </summary>
public interface IScheduledBackbone : IMultiTaskBackbone
{
    /// <summary>Creates the per-task parameters for <paramref name="tasks"/> and sets the run's length.</summary>
    void Prepare(IReadOnlyList<string> tasks, long totalSteps);

    /// <summary>The step about to run (0-based), so schedules follow the trainer (and a resumed run).</summary>
    void OnStep(long step);
}
