using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Metrics;

/// <summary>
/// Semantic-segmentation confusion matrix accumulated over batches: rows are true classes,
/// columns predictions; pixels whose target equals the ignore index are skipped. IoU of class c
/// is TP / (TP + FP + FN); mIoU averages over classes that occur in the target or the prediction
/// (a class absent from both has no IoU, as in torchmetrics/mmseg's nanmean).
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[] _counts;

    public ConfusionMatrix(int classCount, long ignoreIndex = 255)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        ClassCount = classCount;
        IgnoreIndex = ignoreIndex;
        _counts = new long[classCount * classCount];
    }

    public int ClassCount { get; }

    public long IgnoreIndex { get; }

    /// <summary>Count of pixels with true class <paramref name="truth"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int truth, int predicted] => _counts[truth * ClassCount + predicted];

    /// <summary>Adds predicted class indices and targets of one shape (int64 or int32, e.g. [N, H, W]).</summary>
    public void Update(Tensor predictions, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(targets);
        if (!Shapes.Equal(predictions.Shape, targets.Shape))
            throw new ArgumentException($"ConfusionMatrix: predictions and targets expected one shape, found {Shapes.Format(predictions.Shape)} and {Shapes.Format(targets.Shape)}; take Argmax(1) of logits first", nameof(targets));
        if (predictions.DType is not (DType.Int64 or DType.Int32) || targets.DType is not (DType.Int64 or DType.Int32))
            throw new ArgumentException($"ConfusionMatrix: expected integer class indices, found {predictions.DType.Name()} predictions and {targets.DType.Name()} targets", nameof(predictions));
        Update(predictions.ToLong().ToArray<long>(), targets.ToLong().ToArray<long>());
    }

    public void Update(long[] predictions, long[] targets)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(targets);
        if (predictions.Length != targets.Length)
            throw new ArgumentException($"ConfusionMatrix: {predictions.Length} predictions but {targets.Length} targets", nameof(targets));
        for (int i = 0; i < targets.Length; i++)
        {
            long truth = targets[i];
            if (truth == IgnoreIndex) continue;
            long predicted = predictions[i];
            if (truth < 0 || truth >= ClassCount)
                throw new ArgumentOutOfRangeException(nameof(targets), truth, $"ConfusionMatrix: target {truth} at {i} is outside [0, {ClassCount - 1}] and is not the ignore index {IgnoreIndex}");
            if (predicted < 0 || predicted >= ClassCount)
                throw new ArgumentOutOfRangeException(nameof(predictions), predicted, $"ConfusionMatrix: prediction {predicted} at {i} is outside [0, {ClassCount - 1}]");
            _counts[truth * ClassCount + predicted]++;
        }
    }

    /// <summary>IoU per class; NaN where the class appears in neither targets nor predictions.</summary>
    public double[] IntersectionOverUnion()
    {
        var iou = new double[ClassCount];
        for (int c = 0; c < ClassCount; c++)
        {
            long truePositive = this[c, c], row = 0, column = 0;
            for (int k = 0; k < ClassCount; k++) { row += this[c, k]; column += this[k, c]; }
            long union = row + column - truePositive;
            iou[c] = union == 0 ? double.NaN : (double)truePositive / union;
        }
        return iou;
    }

    /// <summary>Mean IoU over classes that have one (NaN when nothing was counted).</summary>
    public double MeanIntersectionOverUnion()
    {
        var defined = IntersectionOverUnion().Where(v => !double.IsNaN(v)).ToArray();
        return defined.Length == 0 ? double.NaN : defined.Average();
    }

    /// <summary>Fraction of counted pixels predicted correctly.</summary>
    public double PixelAccuracy()
    {
        long total = _counts.Sum(), correct = 0;
        for (int c = 0; c < ClassCount; c++) correct += this[c, c];
        return total == 0 ? double.NaN : (double)correct / total;
    }

    public void Reset() => Array.Clear(_counts);
}

/// <summary>
/// Depth-regression errors accumulated over batches, over valid pixels only (target finite and
/// &gt; 0, and the optional mask true): RMSE = sqrt(mean (p − t)²) and AbsRel = mean |p − t| / t,
/// both means over every valid pixel seen (not averages of per-batch values).
/// </summary>
public sealed class DepthMetrics
{
    private double _squaredError;
    private double _relativeError;
    private long _count;

    /// <summary>Valid pixels seen so far.</summary>
    public long Count => _count;

    public void Update(Tensor predictions, Tensor targets, Tensor? validMask = null)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(targets);
        if (!Shapes.Equal(predictions.Shape, targets.Shape) || (validMask is not null && !Shapes.Equal(validMask.Shape, targets.Shape)))
            throw new ArgumentException($"DepthMetrics: predictions, targets (and mask) expected one shape, found {Shapes.Format(predictions.Shape)}, {Shapes.Format(targets.Shape)}{(validMask is null ? "" : ", " + Shapes.Format(validMask.Shape))}", nameof(targets));
        Update(predictions.ToFloat().Contiguous().ToArray(), targets.ToFloat().Contiguous().ToArray(), validMask?.ToFloat().Contiguous().ToArray().Select(v => v != 0f).ToArray());
    }

    public void Update(float[] predictions, float[] targets, bool[]? validMask = null)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(targets);
        if (predictions.Length != targets.Length || (validMask is not null && validMask.Length != targets.Length))
            throw new ArgumentException($"DepthMetrics: {predictions.Length} predictions, {targets.Length} targets{(validMask is null ? "" : $", {validMask.Length} mask values")}: expected equal counts", nameof(targets));
        for (int i = 0; i < targets.Length; i++)
        {
            float truth = targets[i];
            if (!(truth > 0f) || !float.IsFinite(truth) || (validMask is not null && !validMask[i])) continue;
            double difference = (double)predictions[i] - truth;
            _squaredError += difference * difference;
            _relativeError += Math.Abs(difference) / truth;
            _count++;
        }
    }

    /// <summary>Root mean squared error over valid pixels (NaN before any).</summary>
    public double Rmse => _count == 0 ? double.NaN : Math.Sqrt(_squaredError / _count);

    /// <summary>Mean absolute relative error over valid pixels (NaN before any).</summary>
    public double AbsRel => _count == 0 ? double.NaN : _relativeError / _count;

    public void Reset() => (_squaredError, _relativeError, _count) = (0, 0, 0);
}
