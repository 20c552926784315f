using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Metrics;

/// <summary>Top-k classification accuracy.</summary>
public static class Accuracy
{
    /// <summary>
    /// Fraction of rows of <paramref name="logits"/> [N, C] whose true class (int64 <paramref name="labels"/> [N])
    /// is among the k highest scores. Ties rank the lower class index first (a stable descending
    /// sort), so a tie never counts a row twice.
    /// </summary>
    public static double TopK(Tensor logits, Tensor labels, int k = 1)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.Rank != 2 || logits.DType != DType.Float32)
            throw new ArgumentException($"Accuracy.TopK: 'logits' expected float32 [N, C], found {logits.DType.Name()} of shape {Shapes.Format(logits.Shape)}", nameof(logits));
        if (labels.Rank != 1 || labels.Size(0) != logits.Size(0) || (labels.DType != DType.Int64 && labels.DType != DType.Int32))
            throw new ArgumentException($"Accuracy.TopK: 'labels' expected int64 [{logits.Size(0)}] (one per row), found {labels.DType.Name()} of shape {Shapes.Format(labels.Shape)}", nameof(labels));
        return TopK(logits.Contiguous().ToArray(), labels.ToLong().ToArray<long>(), logits.Size(1), k);
    }

    /// <summary><see cref="TopK(Tensor, Tensor, int)"/> on a row-major [N, classCount] score array.</summary>
    public static double TopK(float[] scores, long[] labels, int classCount, int k = 1)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (k < 1 || k > classCount)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"Accuracy.TopK: 'k' expected in [1, {classCount}] (the class count), found {k}");
        if (scores.Length != labels.Length * classCount)
            throw new ArgumentException($"Accuracy.TopK: expected {labels.Length}x{classCount} scores, found {scores.Length}", nameof(scores));
        if (labels.Length == 0)
            throw new ArgumentException("Accuracy.TopK: no samples to score", nameof(labels));
        int correct = 0;
        for (int n = 0; n < labels.Length; n++)
        {
            long label = labels[n];
            if (label < 0 || label >= classCount)
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"Accuracy.TopK: label of row {n} expected in [0, {classCount - 1}], found {label}");
            float target = scores[n * classCount + label];
            int rank = 0;
            for (int c = 0; c < classCount; c++)
            {
                float value = scores[n * classCount + c];
                if (value > target || (value == target && c < label)) rank++;
            }
            if (rank < k) correct++;
        }
        return (double)correct / labels.Length;
    }
}

/// <summary>
/// Multi-label mean average precision: per class, the average precision of the scores ranked
/// high to low — Σ (R_i − R_{i−1}) P_i over the distinct score thresholds, as
/// sklearn.metrics.average_precision_score — averaged over the classes that have at least one
/// positive.
/// </summary>
public static class MultiLabelAveragePrecision
{
    /// <summary>mAP of <paramref name="scores"/> [N, C] against 0/1 <paramref name="targets"/> [N, C].</summary>
    public static double Mean(Tensor scores, Tensor targets) => Compute(scores, targets).Mean;

    /// <summary>The mean and the per-class AP (NaN for a class with no positives).</summary>
    public static (double Mean, double[] PerClass) Compute(Tensor scores, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(targets);
        if (scores.Rank != 2 || !Shapes.Equal(scores.Shape, targets.Shape))
            throw new ArgumentException($"MultiLabelAveragePrecision: scores and targets expected one [N, C] shape, found {Shapes.Format(scores.Shape)} and {Shapes.Format(targets.Shape)}", nameof(targets));
        int rows = scores.Size(0), classes = scores.Size(1);
        float[] s = scores.Contiguous().ToArray();
        float[] t = targets.ToFloat().Contiguous().ToArray();
        var perClass = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            var columnScores = new float[rows];
            var columnTargets = new bool[rows];
            for (int n = 0; n < rows; n++)
            {
                columnScores[n] = s[n * classes + c];
                float value = t[n * classes + c];
                if (value != 0f && value != 1f)
                    throw new ArgumentException($"MultiLabelAveragePrecision: targets must be 0 or 1, found {value} at row {n}, class {c}", nameof(targets));
                columnTargets[n] = value == 1f;
            }
            perClass[c] = AveragePrecision(columnScores, columnTargets);
        }
        var defined = perClass.Where(v => !double.IsNaN(v)).ToArray();
        return (defined.Length == 0 ? double.NaN : defined.Average(), perClass);
    }

    /// <summary>Average precision of one class (NaN when it has no positives); tied scores form one threshold.</summary>
    public static double AveragePrecision(float[] scores, bool[] positives)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(positives);
        if (scores.Length != positives.Length)
            throw new ArgumentException($"AveragePrecision: {scores.Length} scores but {positives.Length} targets", nameof(positives));
        int positiveCount = positives.Count(p => p);
        if (positiveCount == 0) return double.NaN;
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ToArray();
        double ap = 0, previousRecall = 0;
        int truePositives = 0;
        for (int i = 0; i < order.Length; i++)
        {
            if (positives[order[i]]) truePositives++;
            // Close a threshold only after the last of a run of equal scores.
            if (i + 1 < order.Length && scores[order[i + 1]] == scores[order[i]]) continue;
            double recall = (double)truePositives / positiveCount;
            ap += (recall - previousRecall) * truePositives / (i + 1);
            previousRecall = recall;
        }
        return ap;
    }
}
