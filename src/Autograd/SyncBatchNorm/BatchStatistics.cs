namespace Tessera.Autograd;

/// <summary>
/// Per-channel sums one replica contributes to batch norm: the number of values per channel and
/// the sum and sum of squares of each channel's values.
/// </summary>
public sealed record BatchStatistics(long Count, double[] Sum, double[] SumSquares);

/// <summary>
/// Per-channel sums one replica contributes to the batch-norm backward: the sum of gradOutput and
/// of gradOutput * normalized input (the gradient reaching the normalised values, before the affine).
/// </summary>
public sealed record BatchGradientStatistics(double[] SumGrad, double[] SumGradNormalized);

/// <summary>
/// The SyncBN seam of <see cref="Functional.BatchNorm"/>: combines the per-replica sums of every
/// replica that normalises one logical batch. Each replica calls <see cref="Combine"/> once per
/// training forward and <see cref="CombineGradients"/> once per backward, in the same order, and
/// gets the totals over all replicas back. A single process uses <see cref="LocalBatchStatisticsReducer"/>.
/// </summary>
public interface IBatchStatisticsReducer
{
    /// <summary>Total count and per-channel sums over all replicas.</summary>
    BatchStatistics Combine(BatchStatistics local);

    /// <summary>Per-channel gradient sums over all replicas.</summary>
    BatchGradientStatistics CombineGradients(BatchGradientStatistics local);
}

/// <summary>One replica: the totals are the local sums (plain batch norm).</summary>
public sealed class LocalBatchStatisticsReducer : IBatchStatisticsReducer
{
    public static LocalBatchStatisticsReducer Instance { get; } = new();

    public BatchStatistics Combine(BatchStatistics local) => local;

    public BatchGradientStatistics CombineGradients(BatchGradientStatistics local) => local;
}

/// <summary>
/// SyncBN between "virtual devices" of one process: replica r (each on its own thread, each with
/// its own part of the batch) uses <see cref="Replica"/>(r). Every combine blocks until all
/// replicas have arrived, then each gets the sum taken in rank order (so the result does not
/// depend on arrival order). A replica that never arrives (its output left out of the loss, an
/// exception) makes the others fail with a <see cref="TimeoutException"/> after <c>timeout</c>.
/// </summary>
public sealed class InProcessBatchStatisticsGroup
{
    private readonly object _gate = new();
    private readonly double[]?[] _slots;
    private readonly TimeSpan _timeout;
    private double[] _result = [];
    private long _generation;
    private int _arrived;

    public InProcessBatchStatisticsGroup(int replicaCount, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicaCount, 1);
        _slots = new double[]?[replicaCount];
        _timeout = timeout ?? TimeSpan.FromSeconds(60);
    }

    public int ReplicaCount => _slots.Length;

    /// <summary>The reducer replica <paramref name="rank"/> passes to BatchNorm.</summary>
    public IBatchStatisticsReducer Replica(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, ReplicaCount);
        return new Member(this, rank);
    }

    /// <summary>Sum over replicas of equally long vectors (an all-reduce).</summary>
    private double[] AllReduce(int rank, double[] values)
    {
        lock (_gate)
        {
            if (_slots[rank] is not null)
                throw new InvalidOperationException($"SyncBN: replica {rank} combined twice before every replica arrived; each replica must run the same forward and backward once per step");
            _slots[rank] = values;
            long generation = _generation;
            if (++_arrived == _slots.Length)
            {
                var total = new double[values.Length];
                for (int r = 0; r < _slots.Length; r++)
                {
                    var slot = _slots[r]!;
                    if (slot.Length != total.Length)
                        throw new ArgumentException($"SyncBN: replicas disagree on the channel count ({slot.Length} vs {total.Length} values); every replica must normalise the same channels");
                    for (int i = 0; i < total.Length; i++) total[i] += slot[i];
                    _slots[r] = null;
                }
                _result = total;
                _arrived = 0;
                _generation++;
                Monitor.PulseAll(_gate);
                return (double[])total.Clone();
            }
            var deadline = DateTime.UtcNow + _timeout;
            while (_generation == generation)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_gate, left))
                {
                    _slots[rank] = null;
                    _arrived--;
                    throw new TimeoutException($"SyncBN: replica {rank} waited {_timeout.TotalSeconds:g3} s for {_slots.Length - _arrived} other replicas; every replica must call BatchNorm (and its backward) with the same group");
                }
            }
            return (double[])_result.Clone();
        }
    }

    private sealed class Member(InProcessBatchStatisticsGroup group, int rank) : AllReduceStatisticsReducer
    {
        protected override double[] AllReduce(double[] values) => group.AllReduce(rank, values);
    }
}

/// <summary>
/// A reducer over an all-reduce of one vector of doubles (summed across replicas): packs the
/// statistics, reduces them, unpacks. Replica groups only supply <see cref="AllReduce"/>.
/// </summary>
public abstract class AllReduceStatisticsReducer : IBatchStatisticsReducer
{
    /// <summary>The element-wise sum of <paramref name="values"/> over every replica (each replica gets the same result).</summary>
    protected abstract double[] AllReduce(double[] values);

    public BatchStatistics Combine(BatchStatistics local)
    {
        ArgumentNullException.ThrowIfNull(local);
        int channels = local.Sum.Length;
        var packed = new double[1 + 2 * channels];
        packed[0] = local.Count;
        local.Sum.CopyTo(packed, 1);
        local.SumSquares.CopyTo(packed, 1 + channels);
        var total = AllReduce(packed);
        return new BatchStatistics((long)total[0], total[1..(1 + channels)], total[(1 + channels)..]);
    }

    public BatchGradientStatistics CombineGradients(BatchGradientStatistics local)
    {
        ArgumentNullException.ThrowIfNull(local);
        int channels = local.SumGrad.Length;
        var total = AllReduce([.. local.SumGrad, .. local.SumGradNormalized]);
        return new BatchGradientStatistics(total[..channels], total[channels..]);
    }
}
