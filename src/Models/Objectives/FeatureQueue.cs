using Tessera.Autograd;
using Tessera.Engine;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Objectives;

/// <summary>
/// A first-in, first-out memory of feature vectors [capacity, D] (MoCo's negatives, INTERN's STS
/// text queue): <see cref="Enqueue"/> writes detached copies over the oldest rows.
/// </summary>
public sealed class FeatureQueue
{
    private readonly Tensor _rows; // [capacity, D]
    private int _next;

    public FeatureQueue(int capacity, int dim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        Capacity = capacity;
        Dim = dim;
        // The queue outlives any training step's TensorScope it may be created in.
        using (TensorScope.Unscoped()) _rows = Tensor.Zeros([capacity, dim]);
    }

    public int Capacity { get; }
    public int Dim { get; }

    /// <summary>Rows filled so far (grows to <see cref="Capacity"/>, then stays).</summary>
    public int Count { get; private set; }

    /// <summary>Appends [B, D] rows (B ≤ capacity), overwriting the oldest when full.</summary>
    public void Enqueue(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Rank != 2 || features.Size(1) != Dim)
            throw new TensorShapeException($"FeatureQueue: expected features [B, {Dim}], found {Shapes.Format(features.Shape)}", nameof(features));
        int batchSize = features.Size(0);
        if (batchSize > Capacity)
            throw new ArgumentException($"FeatureQueue: the queue ({Capacity} rows) is shorter than the batch ({batchSize} rows); expected a queue at least as long as a batch — raise the queue size", nameof(features));
        using var noGrad = GradMode.NoGrad();
        var source = features.Detach().To(_rows.Device);
        int first = Math.Min(batchSize, Capacity - _next);
        _rows.Narrow(0, _next, first).CopyFrom(source.Narrow(0, 0, first));
        if (first < batchSize)
            _rows.Narrow(0, 0, batchSize - first).CopyFrom(source.Narrow(0, first, batchSize - first));
        _next = (_next + batchSize) % Capacity;
        Count = Math.Min(Capacity, Count + batchSize);
    }

    /// <summary>The filled rows [Count, D] (a copy, no gradient).</summary>
    public Tensor Features()
    {
        if (Count == 0)
            throw new InvalidOperationException("FeatureQueue: the queue is empty; enqueue a batch first");
        return _rows.Narrow(0, 0, Count).Clone();
    }

    /// <summary>
    /// For each query [B, D], the queue row with the highest cosine similarity to it (ties: the
    /// lowest row), as [B, D] (no gradient): INTERN's STS nearest-neighbour text target.
    /// </summary>
    public Tensor NearestNeighbours(Tensor queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        if (queries.Rank != 2 || queries.Size(1) != Dim)
            throw new TensorShapeException($"FeatureQueue: expected queries [B, {Dim}], found {Shapes.Format(queries.Shape)}", nameof(queries));
        using var noGrad = GradMode.NoGrad();
        var stored = Features();
        var similarity = F.Normalize(queries.Detach(), 1).Matmul(F.Normalize(stored, 1).Transpose(0, 1)); // [B, Count]
        var best = F.Argmax(similarity, 1); // [B] int64
        return F.IndexSelect(stored, 0, best);
    }
}
