using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;

namespace Tessera.Models.Training;

/// <summary>Which part of a source a batch comes from.</summary>
public enum DataSplit
{
    Train,
    Test,
}

/// <summary>
/// One batch of one task: the images [batch, channels, size, size] and the targets in whatever form
/// the task's head expects (an int64 label tensor, per-image boxes, a mask...).
/// </summary>
public sealed record TaskBatch(Tensor Inputs, object Targets)
{
    public int BatchSize => Inputs.Size(0);

    /// <summary>
    /// The batch with its inputs (and its targets, when they are one tensor) on <paramref name="device"/>.
    /// Structured targets (boxes per image, ...) stay on the host: heads that read them move what they need.
    /// </summary>
    public TaskBatch To(Engine.Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (Inputs.Device == device && (Targets is not Tensor t || t.Device == device))
            return this;
        return new TaskBatch(Inputs.To(device), Targets is Tensor targets ? targets.To(device) : Targets);
    }
}

/// <summary>
/// A data source of one task. <see cref="Sample"/> must be a pure function of its arguments and
/// the generator's state, so a run is reproducible and a resumed run continues exactly (the
/// trainer checkpoints the generator's (seed, offset)).
/// </summary>
public interface ITaskSource
{
    string Name { get; }

    /// <summary>
    /// Batch number <paramref name="index"/> of <paramref name="split"/> with
    /// <paramref name="batchSize"/> images of <paramref name="inputSize"/> pixels a side.
    /// Training batches may draw from <paramref name="generator"/> (augmentation, sampling);
    /// test batches must depend on the index only.
    /// </summary>
    TaskBatch Sample(DataSplit split, long index, int batchSize, int inputSize, Generator generator);
}

/// <summary>What a head returns for one batch: the loss to minimise and named metrics of the batch (means over its images).</summary>
public sealed record TaskOutput(Tensor Loss, IReadOnlyDictionary<string, double> Metrics);

/// <summary>A task's head and loss: maps the backbone's features of a batch to the loss and metrics.</summary>
public interface ITaskHead
{
    /// <summary>The head's parameters and buffers (registered under "heads.{task}" in checkpoints).</summary>
    Module Module { get; }

    TaskOutput Forward(Features features, TaskBatch batch);
}

/// <summary>
/// A backbone's output for one batch: one or more feature maps, finest first (single-scale
/// backbones return one; FPN-style heads read all of them).
/// </summary>
public sealed record Features(IReadOnlyList<Tensor> Maps)
{
    public Features(Tensor single) : this([single]) { }

    /// <summary>The coarsest (last) map, what a classification head pools.</summary>
    public Tensor Final => Maps[^1];
}

/// <summary>
/// The shared part of a multi-task model: maps (task, input) to features. The task name lets
/// routed backbones (GPPF's per-task unit choice) pick their path; plain backbones ignore it.
/// Batch-norm layers inside take their SyncBN reducer from the device's <see cref="Nn.SyncBatchNormScope"/>.
/// </summary>
public interface IMultiTaskBackbone
{
    Module Module { get; }

    Features Forward(string task, Tensor input);
}

/// <summary>One task of a run: its source, head, sampling weight, loss weight and batch geometry.</summary>
public sealed record TrainingTask(string Name, ITaskSource Source, ITaskHead Head, double SamplingWeight, int BatchSize, int InputSize, double LossWeight = 1.0);
