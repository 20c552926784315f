using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Detection;
using Tessera.Models.Nn;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Detection;

/// <summary>
/// The whole detector against torchvision's FasterRCNN with the same weights
/// (gen_detection.py, full_model_case): sampling batches larger than the anchor and proposal
/// counts make every loss deterministic, so the four losses must agree, and so must the
/// best detections of the eval pass.
/// </summary>
public sealed class FasterRcnnGoldenTests
{
    [Fact]
    public void LossesAndDetectionsMatchTorchvision()
    {
        var golden = GoldenFile.Get("detection", "faster_rcnn_0");
        var generator = new Generator(0);
        var backbone = new Sequential(
            new Conv2d(1, 8, 3, stride: 2, padding: 1, generator: generator), Lambda.Relu(),
            new Conv2d(8, 8, 3, stride: 2, padding: 1, generator: generator), Lambda.Relu());
        var options = new FasterRcnnOptions
        {
            ClassCount = 3, AnchorSizes = [[8f, 16f]], AspectRatios = [[0.5f, 1f, 2f]],
            RpnPreNmsTopNTrain = 1000, RpnPostNmsTopNTrain = 1000, RpnPreNmsTopNTest = 1000, RpnPostNmsTopNTest = 1000,
            RpnBatchSizePerImage = 100000, BoxBatchSizePerImage = 100000, RepresentationSize = 32, DetectionsPerImage = 1000,
        };
        var model = new FasterRcnn(backbone, 8, options, generator);
        var state = golden.Keys("in.p.").ToDictionary(k => k, k => golden.Tensor("in.p." + k));
        model.LoadStateDict(state, strict: true);

        var images = golden.Tensor("in.images");
        var targets = new List<DetectionTarget>
        {
            new(golden.Tensor("in.boxes0"), golden.Tensor("in.labels0")),
            new(golden.Tensor("in.boxes1"), golden.Tensor("in.labels1")),
        };
        var losses = model.Losses(images, targets);
        var actual = Functional.Stack(new[] { "loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg" }.Select(k => losses[k]).ToList());
        GoldenRunner.AssertClose(actual.Detach(), golden.Tensor("out.y0"), new Tolerance(1e-5f, 2e-4f), $"{golden} losses");

        model.Eval();
        var detections = model.Detect(images);
        for (int n = 0; n < 2; n++)
        {
            // The best detections, each found among ours with the same label, box and score. Scores
            // may nearly tie (1e-7 apart), where rounding can swap two detections' order, so the
            // match is by content within the first few ranks rather than by position.
            const int compared = 10;
            float[] expectedBoxes = golden.Tensor($"out.y{1 + 3 * n}").ToArray(), expectedScores = golden.Tensor($"out.y{2 + 3 * n}").ToArray();
            long[] expectedLabels = golden.Tensor($"out.y{3 + 3 * n}").ToArray<long>();
            float[] boxes = detections[n].Boxes.ToArray(), scores = detections[n].Scores.ToArray();
            long[] labels = detections[n].Labels.ToArray<long>();
            Assert.InRange(scores.Length, expectedScores.Length - 5, expectedScores.Length + 5);
            for (int i = 0; i < compared; i++)
            {
                bool found = Enumerable.Range(0, Math.Min(compared + 5, scores.Length)).Any(j =>
                    labels[j] == expectedLabels[i] && MathF.Abs(scores[j] - expectedScores[i]) <= 1e-5f
                    && Enumerable.Range(0, 4).All(k => MathF.Abs(boxes[4 * j + k] - expectedBoxes[4 * i + k]) <= 1e-3f));
                Assert.True(found, $"image {n}: torchvision's detection {i} (label {expectedLabels[i]}, score {expectedScores[i]}, box {string.Join(", ", expectedBoxes.Skip(4 * i).Take(4))}) is not among ours");
            }
        }
    }
}
