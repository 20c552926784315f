using Tessera.Autograd;
using Tessera.Models.Metrics;
using Xunit;

namespace Tessera.Tests.Metrics;

/// <summary>Top-k, mIoU, depth and multi-label AP against hand-computed values.</summary>
public sealed class MetricTests
{
    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9, $"{what}: expected {expected}, found {actual}");

    [Fact]
    public void TopKCountsTiesOnce()
    {
        var logits = Tensor.FromArray(new float[] { 0.1f, 0.5f, 0.4f, 0.3f, 0.3f, 0.4f }, 2, 3);
        var labels = Tensor.FromArray(new long[] { 2, 1 }, 2);
        // Row 0: label 2 ranks second. Row 1: label 1 (0.3) is behind class 2 (0.4) and the tied lower-index class 0.
        Close(0, Accuracy.TopK(logits, labels, 1), "top-1");
        Close(0.5, Accuracy.TopK(logits, labels, 2), "top-2");
        Close(1, Accuracy.TopK(logits, labels, 3), "top-3");
        Assert.Throws<ArgumentOutOfRangeException>(() => Accuracy.TopK(logits, labels, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Accuracy.TopK(logits, Tensor.FromArray(new long[] { 0, 3 }, 2), 1));
        Assert.Throws<ArgumentException>(() => Accuracy.TopK(logits, Tensor.FromArray(new long[] { 0 }, 1), 1));
    }

    [Fact]
    public void ConfusionMatrixMeanIouSkipsIgnoredAndAbsentClasses()
    {
        var matrix = new ConfusionMatrix(4, ignoreIndex: 255);
        matrix.Update(Tensor.FromArray(new long[] { 0, 0, 1, 1, 2, 1 }, 2, 3), Tensor.FromArray(new long[] { 0, 1, 1, 1, 255, 2 }, 2, 3));
        // Counted (truth, prediction): (0,0) (1,0) (1,1) (1,1) (2,1). IoU: 1/2, 2/4, 0/1; class 3 absent.
        var iou = matrix.IntersectionOverUnion();
        Close(0.5, iou[0], "IoU 0");
        Close(0.5, iou[1], "IoU 1");
        Close(0, iou[2], "IoU 2");
        Assert.True(double.IsNaN(iou[3]));
        Close(1.0 / 3, matrix.MeanIntersectionOverUnion(), "mIoU");
        Close(3.0 / 5, matrix.PixelAccuracy(), "pixel accuracy");
        Assert.Equal(2, matrix[1, 1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => matrix.Update([0], [7]));
        Assert.Throws<ArgumentOutOfRangeException>(() => matrix.Update([9], [0]));
        Assert.Throws<ArgumentException>(() => matrix.Update(Tensor.FromArray(new long[] { 0 }, 1), Tensor.FromArray(new long[] { 0, 1 }, 2)));
        matrix.Reset();
        Assert.True(double.IsNaN(matrix.MeanIntersectionOverUnion()));
    }

    [Fact]
    public void DepthErrorsUseValidPixelsOnly()
    {
        var depth = new DepthMetrics();
        depth.Update(Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2), Tensor.FromArray(new float[] { 2, 2, 0, 8 }, 2, 2));
        // Valid: targets 2, 2, 8 (0 is missing depth). Errors -1, 0, -4.
        Close(Math.Sqrt(17.0 / 3), depth.Rmse, "RMSE");
        Close(1.0 / 3, depth.AbsRel, "AbsRel");
        Assert.Equal(3, depth.Count);
        var masked = new DepthMetrics();
        masked.Update([1, 2, 3, 4], [2, 2, 0, 8], [true, true, true, false]);
        Close(Math.Sqrt(0.5), masked.Rmse, "masked RMSE");
        Close(0.25, masked.AbsRel, "masked AbsRel");
        // Accumulation is over pixels, not an average of per-batch values.
        var split = new DepthMetrics();
        split.Update([1], [2]);
        split.Update([2, 4], [2, 8]);
        Close(depth.Rmse, split.Rmse, "accumulated RMSE");
        Assert.True(double.IsNaN(new DepthMetrics().Rmse));
        Assert.Throws<ArgumentException>(() => depth.Update([1, 2], [1]));
    }

    [Fact]
    public void MultiLabelAveragePrecisionMatchesSklearnDefinition()
    {
        Close(0.5 + 0.5 * 2 / 3.0, MultiLabelAveragePrecision.AveragePrecision([0.9f, 0.8f, 0.7f, 0.6f], [true, false, true, false]), "AP");
        // Tied scores are one threshold: (0.5)(1/2) + (0.5)(2/3) = 0.58333 (sklearn's average_precision_score).
        Close(0.25 + 1 / 3.0, MultiLabelAveragePrecision.AveragePrecision([0.5f, 0.5f, 0.2f], [true, false, true]), "tied AP");
        var scores = Tensor.FromArray(new float[] { 0.9f, 0.1f, 0.2f, 0.8f, 0.7f, 0.3f, 0.6f, 0.4f }, 4, 2);
        var targets = Tensor.FromArray(new float[] { 1, 0, 0, 0, 1, 0, 0, 0 }, 4, 2);
        var (mean, perClass) = MultiLabelAveragePrecision.Compute(scores, targets);
        Close(1, perClass[0], "class 0");
        Assert.True(double.IsNaN(perClass[1]));
        Close(1, mean, "mAP over classes with positives");
        Assert.Throws<ArgumentException>(() => MultiLabelAveragePrecision.Compute(scores, Tensor.FromArray(new float[] { 2, 0, 0, 0, 1, 0, 0, 0 }, 4, 2)));
    }
}
