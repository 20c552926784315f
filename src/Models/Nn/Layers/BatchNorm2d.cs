using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Nn;

/// <summary>
/// torch.nn.BatchNorm2d over [N, C, H, W]. Parameters weight (1) and bias (0) when affine;
/// buffers running_mean (0), running_var (1) and num_batches_tracked (int64) when tracking, named
/// as PyTorch's state dict. Training normalises with batch statistics and updates the running
/// ones with <see cref="Momentum"/> (null: the cumulative average 1/num_batches_tracked, as
/// PyTorch's momentum=None); evaluation uses the running statistics.
/// Setting <see cref="Reducer"/> turns the module into SyncBatchNorm: the batch statistics (and
/// their gradients) are summed over every replica of the reducer's group. Without one, the
/// reducer of the thread's <see cref="SyncBatchNormScope"/> (if any) is used.
/// </summary>
public class BatchNorm2d : Layer
{
    public BatchNorm2d(int numFeatures, float eps = 1e-5f, float? momentum = 0.1f, bool affine = true, bool trackRunningStats = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numFeatures, 1);
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        if (affine)
        {
            Weight = RegisterParameter("weight", InitRules.Constant([numFeatures], 1f));
            Bias = RegisterParameter("bias", InitRules.Constant([numFeatures], 0f));
        }
        if (trackRunningStats)
        {
            RunningMean = RegisterBuffer("running_mean", InitRules.Constant([numFeatures], 0f));
            RunningVar = RegisterBuffer("running_var", InitRules.Constant([numFeatures], 1f));
            NumBatchesTracked = RegisterBuffer("num_batches_tracked", Tensor.FromArray(new long[] { 0 }, []));
        }
    }

    public int NumFeatures { get; }

    public float Eps { get; }

    /// <summary>Running-statistics momentum; null = cumulative moving average.</summary>
    public float? Momentum { get; }

    public Tensor? Weight { get; }

    public Tensor? Bias { get; }

    public Tensor? RunningMean { get; }

    public Tensor? RunningVar { get; }

    /// <summary>int64 scalar: training forwards seen (drives momentum = null).</summary>
    public Tensor? NumBatchesTracked { get; }

    /// <summary>Combines batch statistics across replicas (SyncBN); null = this batch only.</summary>
    public IBatchStatisticsReducer? Reducer { get; set; }

    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4)
            throw new TensorShapeException($"{GetType().Name}: expected a 4-d input [N, C, H, W], found shape {Shapes.Format(input.Shape)}", nameof(input));
        if (input.Size(1) != NumFeatures)
            throw new TensorShapeException($"{GetType().Name}: expected {NumFeatures} channels, found {input.Size(1)} in shape {Shapes.Format(input.Shape)}", nameof(input));
        // Batch statistics in training, or whenever there are no running ones to use (PyTorch's bn_training).
        bool useBatchStatistics = Training || RunningMean is null;
        // A replica of a shared model that leaves the running statistics to another one.
        bool updateRunning = Training && RunningMean is not null && (Reducer is not null || SyncBatchNormScope.UpdatesRunningStatistics);
        float momentum = 0f;
        if (updateRunning && NumBatchesTracked is not null)
        {
            long seen;
            if (NumBatchesTracked.Device.IsCpu)
            {
                seen = ++NumBatchesTracked.AsSpan<long>()[0];
            }
            else
            {
                seen = NumBatchesTracked.Item<long>() + 1;
                NumBatchesTracked.CopyFrom(Tensor.FromArray(new[] { seen }, []));
            }
            momentum = Momentum ?? 1f / seen;
        }
        var (runningMean, runningVar) = updateRunning || !useBatchStatistics ? (RunningMean, RunningVar) : (null, null);
        return Functional.BatchNorm(input, runningMean, runningVar, Weight, Bias, useBatchStatistics, momentum, Eps, Reducer ?? SyncBatchNormScope.CurrentReducer);
    }
}

/// <summary>
/// torch.nn.SyncBatchNorm: BatchNorm2d whose training statistics are combined over every replica
/// (virtual device) of <c>reducer</c>'s group, so N replicas with batches b₁..b_N
/// normalise exactly as one BatchNorm over their union. Each replica holds its own module (same
/// weights) and passes its own member of the group, e.g. <c>group.Replica(rank)</c>.
/// </summary>
public sealed class SyncBatchNorm : BatchNorm2d
{
    public SyncBatchNorm(int numFeatures, IBatchStatisticsReducer reducer, float eps = 1e-5f, float? momentum = 0.1f, bool affine = true, bool trackRunningStats = true)
        : base(numFeatures, eps, momentum, affine, trackRunningStats)
    {
        Reducer = reducer ?? throw new ArgumentNullException(nameof(reducer));
    }

    /// <summary>
    /// torch.nn.SyncBatchNorm.convert_sync_batchnorm for a replica's own model copy: points every
    /// <see cref="BatchNorm2d"/> of <paramref name="model"/> at <paramref name="reducer"/> (in
    /// place; names and state are unchanged). Returns how many were converted.
    /// </summary>
    public static int Convert(Module model, IBatchStatisticsReducer? reducer)
    {
        ArgumentNullException.ThrowIfNull(model);
        int count = 0;
        foreach (var (_, module) in model.NamedModules())
        {
            if (module is not BatchNorm2d batchNorm) continue;
            batchNorm.Reducer = reducer;
            count++;
        }
        return count;
    }
}
