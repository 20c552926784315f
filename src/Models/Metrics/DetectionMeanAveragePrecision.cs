using Tessera.Autograd;
using Tessera.Models.Detection;

namespace Tessera.Models.Metrics;

/// <summary>COCO-style box AP: the mean over IoU thresholds 0.50:0.05:0.95 and classes, AP at 0.50 and 0.75, and per-class AP.</summary>
public sealed record DetectionApResult(double MeanAp, double Ap50, double Ap75, IReadOnlyDictionary<long, double> PerClassAp);

/// <summary>
/// Box mean average precision with the COCO evaluation rules (pycocotools' evaluate + accumulate
/// for area "all", no crowd boxes): per image and class the detections are sorted by score
/// (stably) and cut to <c>maxDetections</c>; at each IoU threshold every detection in turn takes
/// the unmatched ground truth it overlaps most with IoU ≥ threshold; per class the detections of
/// all images are ranked by score, precision is made monotone, sampled at the 101 recall points
/// 0, 0.01, .., 1 (searchsorted left; 0 past the reached recall) and averaged. Classes without
/// ground truth are left out of the mean; a class with ground truth but no detections scores 0.
/// Boxes are [x1, y1, x2, y2] with IoU computed without the legacy +1.
/// </summary>
public sealed class DetectionMeanAveragePrecision
{
    /// <summary>numpy.spacing(1), which COCO adds to precision's denominator.</summary>
    private const double Spacing1 = 2.220446049250313e-16;

    private readonly List<Image> _images = new();

    public DetectionMeanAveragePrecision(int maxDetections = 100)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDetections, 1);
        MaxDetections = maxDetections;
    }

    /// <summary>Detections kept per image and class, best first (COCO: 100).</summary>
    public int MaxDetections { get; }

    /// <summary>COCO's IoU thresholds (numpy.linspace(0.5, 0.95, 10)).</summary>
    public static double[] IouThresholds { get; } = Linspace(0.5, 0.95, 10);

    /// <summary>COCO's recall points (numpy.linspace(0, 1, 101)).</summary>
    public static double[] RecallThresholds { get; } = Linspace(0.0, 1.0, 101);

    /// <summary>Images added so far.</summary>
    public int ImageCount => _images.Count;

    /// <summary>Adds one image's detections and ground truth.</summary>
    public void Add(Detections predictions, DetectionTarget target)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(target);
        Add(Floats(predictions.Boxes), Floats(predictions.Scores), Longs(predictions.Labels), Floats(target.Boxes), Longs(target.Labels));
    }

    /// <summary>Adds one image: detection boxes [D·4], scores [D], labels [D]; ground-truth boxes [G·4], labels [G].</summary>
    public void Add(float[] boxes, float[] scores, long[] labels, float[] truthBoxes, long[] truthLabels)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(truthBoxes);
        ArgumentNullException.ThrowIfNull(truthLabels);
        if (boxes.Length != scores.Length * 4 || labels.Length != scores.Length)
            throw new ArgumentException($"DetectionMeanAveragePrecision: detections expected 4 box values, 1 score and 1 label each; found {boxes.Length} box values, {scores.Length} scores, {labels.Length} labels", nameof(boxes));
        if (truthBoxes.Length != truthLabels.Length * 4)
            throw new ArgumentException($"DetectionMeanAveragePrecision: ground truth expected 4 box values per label, found {truthBoxes.Length} box values for {truthLabels.Length} labels", nameof(truthBoxes));
        if (scores.Any(s => !float.IsFinite(s)))
            throw new ArgumentException("DetectionMeanAveragePrecision: detection scores must be finite", nameof(scores));
        _images.Add(new Image((float[])boxes.Clone(), (float[])scores.Clone(), (long[])labels.Clone(), (float[])truthBoxes.Clone(), (long[])truthLabels.Clone()));
    }

    /// <summary>Clears every added image.</summary>
    public void Reset() => _images.Clear();

    public DetectionApResult Compute()
    {
        var classes = _images.SelectMany(i => i.TruthLabels).Distinct().Order().ToArray();
        int thresholdCount = IouThresholds.Length;
        var perClass = new Dictionary<long, double>();
        var perThresholdSums = new double[thresholdCount];
        foreach (long label in classes)
        {
            var scores = new List<float>();
            var matched = new List<bool[]>();
            int truthCount = 0;
            foreach (var image in _images)
            {
                var (imageScores, imageMatched, imageTruth) = EvaluateImage(image, label);
                scores.AddRange(imageScores);
                matched.AddRange(imageMatched);
                truthCount += imageTruth;
            }
            // np.argsort(-scores, kind="mergesort"): stable, so equal scores keep image order.
            var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
            double classSum = 0;
            for (int t = 0; t < thresholdCount; t++)
            {
                double ap = AveragePrecision(order.Select(i => matched[i][t]).ToArray(), truthCount);
                classSum += ap;
                perThresholdSums[t] += ap;
            }
            perClass[label] = classSum / thresholdCount;
        }
        if (classes.Length == 0)
            return new DetectionApResult(double.NaN, double.NaN, double.NaN, perClass);
        return new DetectionApResult(perClass.Values.Average(), perThresholdSums[0] / classes.Length, perThresholdSums[5] / classes.Length, perClass);
    }

    /// <summary>One image and class: the kept detections' scores, whether each is matched at every threshold, and the ground-truth count.</summary>
    private (float[] Scores, bool[][] Matched, int TruthCount) EvaluateImage(Image image, long label)
    {
        var truth = Enumerable.Range(0, image.TruthLabels.Length).Where(g => image.TruthLabels[g] == label).ToArray();
        var detections = Enumerable.Range(0, image.Labels.Length).Where(d => image.Labels[d] == label)
            .OrderByDescending(d => image.Scores[d]).Take(MaxDetections).ToArray();
        var matched = new bool[detections.Length][];
        for (int d = 0; d < detections.Length; d++) matched[d] = new bool[IouThresholds.Length];
        var iou = new double[detections.Length, truth.Length];
        for (int d = 0; d < detections.Length; d++)
            for (int g = 0; g < truth.Length; g++)
                iou[d, g] = Iou(image.Boxes, detections[d], image.TruthBoxes, truth[g]);
        for (int t = 0; t < IouThresholds.Length; t++)
        {
            var taken = new bool[truth.Length];
            for (int d = 0; d < detections.Length; d++)
            {
                double best = Math.Min(IouThresholds[t], 1 - 1e-10);
                int match = -1;
                for (int g = 0; g < truth.Length; g++)
                {
                    if (taken[g] || iou[d, g] < best) continue;
                    best = iou[d, g];
                    match = g;
                }
                if (match < 0) continue;
                taken[match] = true;
                matched[d][t] = true;
            }
        }
        return (detections.Select(d => image.Scores[d]).ToArray(), matched, truth.Length);
    }

    /// <summary>COCO's 101-point interpolated AP of ranked detections (true = true positive).</summary>
    internal static double AveragePrecision(bool[] rankedTruePositive, int truthCount)
    {
        int count = rankedTruePositive.Length;
        var recall = new double[count];
        var precision = new double[count];
        double truePositives = 0, falsePositives = 0;
        for (int i = 0; i < count; i++)
        {
            if (rankedTruePositive[i]) truePositives++;
            else falsePositives++;
            recall[i] = truePositives / truthCount;
            precision[i] = truePositives / (truePositives + falsePositives + Spacing1);
        }
        for (int i = count - 1; i > 0; i--)
            if (precision[i] > precision[i - 1]) precision[i - 1] = precision[i];
        double sum = 0;
        foreach (double threshold in RecallThresholds)
        {
            int index = LowerBound(recall, threshold);
            if (index < count) sum += precision[index];
        }
        return sum / RecallThresholds.Length;
    }

    /// <summary>numpy.searchsorted(values, x, side="left") on ascending values.</summary>
    private static int LowerBound(double[] values, double x)
    {
        int low = 0, high = values.Length;
        while (low < high)
        {
            int middle = (low + high) / 2;
            if (values[middle] < x) low = middle + 1;
            else high = middle;
        }
        return low;
    }

    private static double Iou(float[] a, int i, float[] b, int j)
    {
        double ax1 = a[4 * i], ay1 = a[4 * i + 1], ax2 = a[4 * i + 2], ay2 = a[4 * i + 3];
        double bx1 = b[4 * j], by1 = b[4 * j + 1], bx2 = b[4 * j + 2], by2 = b[4 * j + 3];
        double width = Math.Max(0, Math.Min(ax2, bx2) - Math.Max(ax1, bx1));
        double height = Math.Max(0, Math.Min(ay2, by2) - Math.Max(ay1, by1));
        double intersection = width * height;
        double union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - intersection;
        return union > 0 ? intersection / union : 0;
    }

    /// <summary>numpy.linspace: start + i·step with the last point exactly stop.</summary>
    private static double[] Linspace(double start, double stop, int count)
    {
        double step = (stop - start) / (count - 1);
        var values = new double[count];
        for (int i = 0; i < count; i++) values[i] = start + i * step;
        values[^1] = stop;
        return values;
    }

    private static float[] Floats(Tensor t) => t.Numel == 0 ? [] : t.Contiguous().ToArray();

    private static long[] Longs(Tensor t) => t.Numel == 0 ? [] : t.Contiguous().ToLong().ToArray<long>();

    private sealed record Image(float[] Boxes, float[] Scores, long[] Labels, float[] TruthBoxes, long[] TruthLabels);
}
