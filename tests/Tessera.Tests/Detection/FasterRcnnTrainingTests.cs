using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Detection;
using Tessera.Models.Metrics;
using Tessera.Models.Nn;
using Tessera.Models.Optim;
using Xunit;
using Xunit.Abstractions;

namespace Tessera.Tests.Detection;

/// <summary>Faster R-CNN-lite end to end on a trivially easy set: one bright square on black per image.</summary>
public sealed class FasterRcnnTrainingTests(ITestOutputHelper output)
{
    private const int ImageSize = 32;

    /// <summary>Images [count, 1, 32, 32] with one square of side 8..14 each, and its box (label 1).</summary>
    internal static (Tensor Images, List<DetectionTarget> Targets) Squares(int count, Generator generator)
    {
        var pixels = new float[count * ImageSize * ImageSize];
        var targets = new List<DetectionTarget>();
        for (int n = 0; n < count; n++)
        {
            int side = 8 + generator.NextInt(7);
            int x = generator.NextInt(ImageSize - side + 1), y = generator.NextInt(ImageSize - side + 1);
            for (int i = y; i < y + side; i++)
                for (int j = x; j < x + side; j++)
                    pixels[(n * ImageSize + i) * ImageSize + j] = 1f;
            targets.Add(new DetectionTarget(Tensor.FromArray(new float[] { x, y, x + side, y + side }, 1, 4), Tensor.FromArray(new long[] { 1 }, 1)));
        }
        return (Tensor.FromArray(pixels, count, 1, ImageSize, ImageSize), targets);
    }

    internal static FasterRcnn SmallDetector(ulong seed)
    {
        var generator = new Generator(seed);
        var backbone = new Sequential(
            new Conv2d(1, 16, 3, stride: 2, padding: 1, generator: generator), Lambda.Relu(),
            new Conv2d(16, 32, 3, stride: 2, padding: 1, generator: generator), Lambda.Relu());
        var options = new FasterRcnnOptions
        {
            ClassCount = 2,
            AnchorSizes = [[8f, 16f]],
            AspectRatios = [[0.5f, 1f, 2f]],
            RpnPreNmsTopNTrain = 200, RpnPostNmsTopNTrain = 100, RpnPreNmsTopNTest = 100, RpnPostNmsTopNTest = 30,
            RpnBatchSizePerImage = 64, BoxBatchSizePerImage = 32, RepresentationSize = 64, DetectionsPerImage = 10,
        };
        return new FasterRcnn(backbone, 32, options, generator);
    }

    private static double Ap50(FasterRcnn model, Tensor images, List<DetectionTarget> targets)
    {
        model.Eval();
        var metric = new DetectionMeanAveragePrecision();
        var detections = model.Detect(images);
        for (int n = 0; n < targets.Count; n++) metric.Add(detections[n], targets[n]);
        model.Train();
        return metric.Compute().Ap50;
    }

    [Fact]
    public void SameSeedGivesSameLossesAndEvalGivesDetections()
    {
        var (images, targets) = Squares(2, new Generator(5));
        float[] Run()
        {
            var model = SmallDetector(seed: 3);
            var losses = model.Losses(images, targets);
            Assert.Equal(["loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"], losses.Keys);
            return losses.Values.Select(l => l.Item()).ToArray();
        }
        var first = Run();
        Assert.All(first, l => Assert.True(float.IsFinite(l) && l >= 0f));
        Assert.Equal(first, Run());

        var detector = SmallDetector(seed: 3);
        detector.Eval();
        var output = detector.Forward(images);
        Assert.Null(output.Losses);
        Assert.Equal(2, output.Detections!.Count);
        foreach (var d in output.Detections)
        {
            Assert.Equal(d.Scores.Size(0), d.Boxes.Size(0));
            Assert.Equal(d.Scores.Size(0), d.Labels.Size(0));
            Assert.True(d.Scores.Size(0) <= 10);
            var scores = d.Scores.ToArray();
            for (int i = 1; i < scores.Length; i++) Assert.True(scores[i] <= scores[i - 1]);
        }
    }

    [Fact]
    public void ImagesWithoutObjectsTrainOnNegativesOnly()
    {
        var model = SmallDetector(seed: 2);
        var (images, targets) = Squares(2, new Generator(8));
        targets[1] = new DetectionTarget(Tensor.Zeros(0, 4), Tensor.FromArray(Array.Empty<long>(), 0));
        var losses = model.Losses(images, targets);
        Assert.All(losses.Values, l => Assert.True(float.IsFinite(l.Item()), "a loss is not finite"));
        losses.Values.Aggregate((a, b) => a + b).Backward();
        Assert.All(model.Parameters(), p => Assert.True(p.Grad is null || p.Grad.ToArray().All(float.IsFinite)));

        var empty = new List<DetectionTarget> { targets[1], targets[1] };
        var negativesOnly = model.Losses(images, empty);
        Assert.Equal(0f, negativesOnly["loss_rpn_box_reg"].Item());
        Assert.Equal(0f, negativesOnly["loss_box_reg"].Item());
    }

    [Fact]
    public void BadTargetsAreRejected()
    {
        var model = SmallDetector(seed: 1);
        var (images, targets) = Squares(2, new Generator(5));
        Assert.Contains("one target per image", Assert.Throws<ArgumentException>(() => model.Losses(images, targets.Take(1).ToList())).Message, StringComparison.Ordinal);
        var badLabel = new List<DetectionTarget> { targets[0], new(targets[1].Boxes, Tensor.FromArray(new long[] { 2 }, 1)) };
        Assert.Contains("labels must be in [1, 1]", Assert.Throws<ArgumentOutOfRangeException>(() => model.Losses(images, badLabel)).Message, StringComparison.Ordinal);
        var badBox = new List<DetectionTarget> { targets[0], new(Tensor.FromArray(new float[] { 5, 5, 5, 9 }, 1, 4), targets[1].Labels) };
        Assert.Contains("positive width and height", Assert.Throws<ArgumentException>(() => model.Losses(images, badBox)).Message, StringComparison.Ordinal);
        Assert.Contains("needs targets", Assert.Throws<ArgumentException>(() => model.Forward(images)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LossesFallAndAp50RisesOnBrightSquares()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var model = SmallDetector(seed: 7);
        var data = new Generator(11);
        var (testImages, testTargets) = Squares(16, new Generator(99));
        double apBefore = Ap50(model, testImages, testTargets);
        var optimizer = new AdamW(model.Parameters(), lr: 3e-3f, weightDecay: 1e-4f);
        var totals = new List<float>();
        var firstLosses = new Dictionary<string, float>();
        var lastLosses = new Dictionary<string, float>();
        const int steps = 60;
        for (int step = 0; step < steps; step++)
        {
            using var scope = new TensorScope();
            var (images, targets) = Squares(4, data);
            var losses = model.Losses(images, targets);
            var total = losses.Values.Aggregate((a, b) => a + b);
            totals.Add(total.Item());
            foreach (var (name, loss) in losses)
            {
                if (step < 5) firstLosses[name] = firstLosses.GetValueOrDefault(name) + loss.Item() / 5;
                if (step >= steps - 5) lastLosses[name] = lastLosses.GetValueOrDefault(name) + loss.Item() / 5;
            }
            optimizer.ZeroGrad();
            total.Backward();
            optimizer.Step();
        }
        double apAfter = Ap50(model, testImages, testTargets);
        output.WriteLine($"AP50 {apBefore:F3} -> {apAfter:F3}; total loss {totals.Take(5).Average():F3} -> {totals.TakeLast(5).Average():F3} in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var name in firstLosses.Keys) output.WriteLine($"  {name}: {firstLosses[name]:F4} -> {lastLosses[name]:F4}");
        // loss_box_reg is divided by the whole RoI sample but summed over positives only, so it
        // grows while the RPN learns to propose more positives; the other losses must fall.
        Assert.True(totals.TakeLast(5).Average() < 0.85 * totals.Take(5).Average(), $"total loss did not fall: {string.Join(", ", totals.Select(t => t.ToString("F3")))}");
        Assert.True(lastLosses["loss_objectness"] < 0.3 * firstLosses["loss_objectness"], "RPN objectness loss did not fall");
        Assert.True(lastLosses["loss_classifier"] < 0.7 * firstLosses["loss_classifier"], "RoI classifier loss did not fall");
        Assert.True(apAfter > 0.5 && apAfter > apBefore + 0.3, $"AP50 {apBefore:F3} -> {apAfter:F3}; expected well above zero after training");
    }
}
