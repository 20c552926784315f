using Tessera.Autograd;
using Tessera.Models.Nn;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>
/// X-Learner_p's squeeze: unstructured, global magnitude pruning of the expanded backbone (the
/// paper cites Zhu and Gupta, "To prune or not to prune"), our reading: every conv weight of the
/// sub-backbones and reconciliation layers competes in one pool; the smallest magnitudes are zeroed
/// until the surviving conv weights equal a student's (one sub-backbone's) conv weight count.
/// Gradual: R rounds over the fine-tuning stage with Zhu and Gupta's cubic sparsity schedule
/// s_r = s_final (1 − (1 − r/R)³), training on every source between rounds; masks are re-applied
/// after every update, so pruned weights stay zero. BN parameters are not pruned (a student has
/// them too). The result stays an expanded network whose non-zero conv weights fit the student's budget.
/// </summary>
public sealed class MagnitudePruning
{
    private readonly List<(string Name, Tensor Weight)> _weights;
    private readonly Dictionary<Tensor, Tensor> _masks = new(ReferenceEqualityComparer.Instance);

    /// <param name="backbone">The module whose conv weights (rank-4 parameters) are pruned.</param>
    /// <param name="keep">Conv weights to keep at the end (a student's conv weight count).</param>
    public MagnitudePruning(Module backbone, long keep)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        _weights = backbone.NamedParameters().Where(p => p.Parameter.Rank == 4).ToList();
        Total = _weights.Sum(w => (long)w.Weight.Numel);
        if (keep < 1 || keep > Total)
            throw new ArgumentOutOfRangeException(nameof(keep), keep, $"MagnitudePruning: weights to keep expected in 1..{Total} (the conv weights of the backbone)");
        Keep = keep;
    }

    /// <summary>Prunable conv weights.</summary>
    public long Total { get; }

    /// <summary>Conv weights kept at the end.</summary>
    public long Keep { get; }

    /// <summary>Final sparsity 1 − Keep / Total.</summary>
    public double FinalSparsity => 1.0 - (double)Keep / Total;

    /// <summary>Sparsity after round <paramref name="round"/> of <paramref name="rounds"/> (1-based; cubic schedule).</summary>
    public double SparsityAt(int round, int rounds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        if (round < 1 || round > rounds) throw new ArgumentOutOfRangeException(nameof(round), round, $"MagnitudePruning: round expected in 1..{rounds}");
        double remaining = 1.0 - (double)round / rounds;
        return FinalSparsity * (1.0 - remaining * remaining * remaining);
    }

    /// <summary>Non-zero conv weights now.</summary>
    public long NonZero() => _weights.Sum(w => (long)w.Weight.AsSpan<float>().ToArray().Count(v => v != 0f));

    /// <summary>Zeroes the smallest magnitudes (globally) so that a fraction <paramref name="sparsity"/> of the conv weights is zero; masks follow.</summary>
    public void PruneTo(double sparsity)
    {
        if (!(sparsity >= 0 && sparsity < 1))
            throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "MagnitudePruning: sparsity expected in [0, 1)");
        long zeroCount = (long)Math.Round(sparsity * Total);
        var magnitudes = new float[Total];
        long offset = 0;
        foreach (var (_, weight) in _weights)
        {
            var values = weight.Contiguous().AsSpan<float>();
            for (int i = 0; i < values.Length; i++) magnitudes[offset + i] = MathF.Abs(values[i]);
            offset += values.Length;
        }
        var sorted = (float[])magnitudes.Clone();
        Array.Sort(sorted);
        float threshold = zeroCount == 0 ? -1f : sorted[zeroCount - 1];
        // Ties at the threshold: prune in order until exactly zeroCount are gone.
        long belowThreshold = sorted.Count(v => v < threshold);
        long tiesToPrune = zeroCount - belowThreshold;
        using var noGrad = GradMode.NoGrad();
        using var unscoped = TensorScope.Unscoped();
        offset = 0;
        foreach (var (_, weight) in _weights)
        {
            var mask = new float[weight.Numel];
            for (int i = 0; i < mask.Length; i++)
            {
                float m = magnitudes[offset + i];
                bool prune = m < threshold || (m == threshold && tiesToPrune-- > 0);
                mask[i] = prune ? 0f : 1f;
            }
            offset += mask.Length;
            if (_masks.TryGetValue(weight, out var old)) old.Dispose();
            _masks[weight] = Tensor.FromArray(mask, weight.ShapeArray);
        }
        Apply();
    }

    /// <summary>Multiplies every pruned weight by its mask (after each update).</summary>
    public void Apply()
    {
        using var noGrad = GradMode.NoGrad();
        using var unscoped = TensorScope.Unscoped();
        foreach (var (_, weight) in _weights)
            if (_masks.TryGetValue(weight, out var mask))
            {
                using var masked = weight * mask;
                weight.CopyFrom(masked);
            }
    }

    /// <summary>
    /// The X-Learner_p squeeze: R pruning rounds spread over <paramref name="settings"/>'s squeeze
    /// steps of multi-source fine-tuning (the expanded model in its joint phase).
    /// </summary>
    public List<CurvePoint> Run(MultiTaskModel model, XLearnerSettings settings, Action<string>? log)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        int rounds = settings.PruneRounds, steps = settings.SqueezeSteps;
        // Round r (1-based) prunes before step (r − 1)·steps / R; the last round leaves steps/R steps to recover.
        var roundAt = Enumerable.Range(1, rounds).GroupBy(r => (long)(r - 1) * steps / rounds).ToDictionary(g => g.Key, g => g.Max());
        return XLearnerStages.Train(model, settings, steps, 0, steps, log, "prune + fine-tune",
            beforeStep: step =>
            {
                if (roundAt.TryGetValue(step, out int round)) PruneTo(SparsityAt(round, rounds));
            },
            afterUpdate: _ => Apply());
    }
}
