namespace Tessera.Models.Training;

/// <summary>What to do when a loss or gradient is NaN or infinite.</summary>
public enum NonFinitePolicy
{
    /// <summary>Stop the run with an error naming the step, task and device.</summary>
    Stop,

    /// <summary>Skip the update (weights, optimiser state and running statistics stay as before the step) and go on.</summary>
    Skip,
}

/// <summary>Settings of <see cref="MultiTaskTrainer"/>.</summary>
/// <param name="Devices">Virtual devices V: each step every device samples one task and runs one batch of it.</param>
/// <param name="Seed">Seeds task sampling, data and per-device noise.</param>
/// <param name="NonFinite">NaN/Inf policy.</param>
/// <param name="ClipNorm">Clip the averaged gradients' joint L2 norm to this (0: no clipping).</param>
/// <param name="EvalBatches">Test batches per task in <see cref="MultiTaskTrainer.Evaluate"/>.</param>
/// <param name="SerialDevices">Run each device's kernels on one thread when V > 1 (the devices already run in parallel).</param>
public sealed record TrainerOptions(int Devices = 1, ulong Seed = 0, NonFinitePolicy NonFinite = NonFinitePolicy.Stop, float ClipNorm = 0f, int EvalBatches = 8, bool SerialDevices = true)
{
    /// <summary>Where the model and every batch live: <c>cpu</c> (default), <c>cuda</c> or <c>cuda-emu</c>. All virtual devices share it.</summary>
    public Engine.Device Device { get; init; } = Engine.Device.Cpu;

    /// <summary>
    /// The processes the V virtual devices are dealt to (<see cref="Distributed.DeviceDeal"/>):
    /// <see cref="Engine.Distributed.SingleProcessCommunicator"/> (default) runs them all here; an
    /// <see cref="Engine.Distributed.MpiCommunicator"/> spreads them over the MPI ranks, with the same result.
    /// </summary>
    public Engine.Distributed.ICommunicator Communicator { get; init; } = Engine.Distributed.SingleProcessCommunicator.Instance;

    /// <summary>Bytes per gradient Allreduce across ranks (docs/DISTRIBUTED.md: measured choice).</summary>
    public int BucketBytes { get; init; } = DefaultBucketBytes;

    /// <summary>4 MiB: Open MPI's shared-memory Allreduce on this machine is fastest at 1-4 MB pieces (docs/DISTRIBUTED.md).</summary>
    public const int DefaultBucketBytes = 4 << 20;
}

/// <summary>
/// The error a non-finite loss or gradient raises under <see cref="NonFinitePolicy.Stop"/>: the
/// message names the step, the task and the most plausible cause (see NonFiniteDiagnosis).
/// </summary>
public sealed class NonFiniteLossException(string message) : InvalidOperationException(message)
{
    /// <summary>The step whose loss or gradient was non-finite (-1 when not known).</summary>
    public long Step { get; init; } = -1;

    /// <summary>The task it happened in (null when not known).</summary>
    public string? Task { get; init; }
}

/// <summary>What one step did.</summary>
/// <param name="Step">The step's index (0-based).</param>
/// <param name="DeviceTasks">The task each device trained.</param>
/// <param name="DeviceLosses">Each device's loss (before the loss weight).</param>
/// <param name="Metrics">"task/metric" averaged over the devices that trained the task, and "loss" (mean over devices).</param>
/// <param name="Skipped">Null, or why the update was skipped (non-finite values under <see cref="NonFinitePolicy.Skip"/>).</param>
/// <param name="Images">Images processed over all devices.</param>
public sealed record StepResult(long Step, IReadOnlyList<string> DeviceTasks, IReadOnlyList<double> DeviceLosses,
    IReadOnlyDictionary<string, double> Metrics, string? Skipped, int Images)
{
    public double Loss => Metrics["loss"];
}
