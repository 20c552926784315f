using Tessera.Autograd;
using Tessera.Models.Metrics;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Metrics;

/// <summary>COCO box AP: hand-computed cases and a direct Python implementation of COCOeval (gen_detection.py).</summary>
public sealed class DetectionMapTests
{
    public static TheoryData<string> CocoCases => GoldenFile.CaseNames("detection", "coco_map");

    private static void Close(double expected, double actual, string what, double tolerance = 1e-9) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: expected {expected}, found {actual} (|diff| {Math.Abs(expected - actual):g3})");

    [Fact]
    public void PerfectDetectionsScoreOne()
    {
        var metric = new DetectionMeanAveragePrecision();
        metric.Add([0, 0, 10, 10, 20, 20, 30, 35], [0.9f, 0.6f], [1, 1], [20, 20, 30, 35, 0, 0, 10, 10], [1, 1]);
        var result = metric.Compute();
        Close(1, result.MeanAp, "mAP");
        Close(1, result.Ap50, "AP50");
    }

    [Fact]
    public void FalsePositiveRankedFirstHalvesPrecision()
    {
        // Ranked FP then TP: precision [0, .5] made monotone [.5, .5], recall [0, 1]: every recall point reads .5.
        var metric = new DetectionMeanAveragePrecision();
        metric.Add([50, 50, 60, 60, 0, 0, 10, 10], [0.9f, 0.8f], [1, 1], [0, 0, 10, 10], [1]);
        var result = metric.Compute();
        Close(0.5, result.MeanAp, "mAP");
        Close(0.5, result.Ap50, "AP50");
    }

    [Fact]
    public void IouDecidesWhichThresholdsMatch()
    {
        // IoU 78 / 100 = 0.78: matched at thresholds 0.50 .. 0.75 (6 of 10), missed at 0.80 .. 0.95.
        var metric = new DetectionMeanAveragePrecision();
        metric.Add([0, 0, 10, 7.8f], [0.5f], [1], [0, 0, 10, 10], [1]);
        var result = metric.Compute();
        Close(0.6, result.MeanAp, "mAP");
        Close(1, result.Ap50, "AP50");
        Close(1, result.Ap75, "AP75");
    }

    [Fact]
    public void ClassesWithoutGroundTruthAreLeftOutAndMissedClassesScoreZero()
    {
        var metric = new DetectionMeanAveragePrecision();
        // Class 1 perfect, class 2 has ground truth but no detection, class 3 has only a detection.
        metric.Add([0, 0, 10, 10, 30, 30, 40, 40], [0.9f, 0.7f], [1, 3], [0, 0, 10, 10, 20, 20, 30, 30], [1, 2]);
        var result = metric.Compute();
        Assert.Equal([1L, 2L], result.PerClassAp.Keys.Order());
        Close(1, result.PerClassAp[1], "class 1");
        Close(0, result.PerClassAp[2], "class 2");
        Close(0.5, result.MeanAp, "mAP");
    }

    [Fact]
    public void MaxDetectionsCutsRecallAt101Points()
    {
        // One of two ground truths can be found: precision 1 up to recall 0.5, i.e. 51 of 101 points.
        var metric = new DetectionMeanAveragePrecision(maxDetections: 1);
        metric.Add([0, 0, 10, 10, 20, 20, 30, 30], [0.9f, 0.8f], [1, 1], [0, 0, 10, 10, 20, 20, 30, 30], [1, 1]);
        Close(51.0 / 101, metric.Compute().MeanAp, "mAP");
    }

    [Fact]
    public void BadInputIsRejected()
    {
        var metric = new DetectionMeanAveragePrecision();
        Assert.Contains("4 box values", Assert.Throws<ArgumentException>(() => metric.Add([0, 0, 1], [0.5f], [1], [], [])).Message, StringComparison.Ordinal);
        Assert.Contains("ground truth", Assert.Throws<ArgumentException>(() => metric.Add([], [], [], [0, 0, 1, 1], [1, 2])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => metric.Add([0, 0, 1, 1], [float.NaN], [1], [], []));
        Assert.True(double.IsNaN(metric.Compute().MeanAp));
    }

    [Theory]
    [MemberData(nameof(CocoCases))]
    public void MatchesPythonCocoReference(string name)
    {
        var golden = GoldenFile.Get("detection", name);
        int images = golden.Int("images");
        float[] detBoxes = golden.Tensor("in.det_boxes").ToArray(), detScores = golden.Tensor("in.det_scores").ToArray(), gtBoxes = golden.Tensor("in.gt_boxes").ToArray();
        long[] detLabels = golden.Tensor("in.det_labels").ToArray<long>(), detImage = golden.Tensor("in.det_image").ToArray<long>();
        long[] gtLabels = golden.Tensor("in.gt_labels").ToArray<long>(), gtImage = golden.Tensor("in.gt_image").ToArray<long>();
        var metric = new DetectionMeanAveragePrecision();
        for (int n = 0; n < images; n++)
        {
            var d = Enumerable.Range(0, detScores.Length).Where(i => detImage[i] == n).ToArray();
            var g = Enumerable.Range(0, gtLabels.Length).Where(i => gtImage[i] == n).ToArray();
            metric.Add(d.SelectMany(i => detBoxes.Skip(4 * i).Take(4)).ToArray(), d.Select(i => detScores[i]).ToArray(), d.Select(i => detLabels[i]).ToArray(),
                g.SelectMany(i => gtBoxes.Skip(4 * i).Take(4)).ToArray(), g.Select(i => gtLabels[i]).ToArray());
        }
        var result = metric.Compute();
        float[] expected = golden.Tensor("out.y0").ToArray(), perClass = golden.Tensor("out.y1").ToArray();
        Close(expected[0], result.MeanAp, $"{name} mAP", 1e-6);
        Close(expected[1], result.Ap50, $"{name} AP50", 1e-6);
        Close(expected[2], result.Ap75, $"{name} AP75", 1e-6);
        long[] classes = golden.Args.GetProperty("classes").EnumerateArray().Select(c => c.GetInt64()).ToArray();
        Assert.Equal(classes, result.PerClassAp.Keys.Order().ToArray());
        for (int k = 0; k < classes.Length; k++) Close(perClass[k], result.PerClassAp[classes[k]], $"{name} class {classes[k]}", 1e-6);
        Assert.True(result.MeanAp > 0.1 && result.MeanAp < 0.9, $"{name}: a reference case should be neither trivial nor empty, mAP {result.MeanAp}");
    }
}
