using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Detection;
using Tessera.Models.Nn;
using Xunit;

namespace Tessera.Tests.Detection;

/// <summary>Faster R-CNN-lite over a backbone that returns two feature maps (an FPN-like pyramid).</summary>
public sealed class MultiLevelDetectorTests
{
    /// <summary>Two maps with 8 channels: strides 4 and 8 of the input.</summary>
    private sealed class TwoLevelBackbone : Module
    {
        private readonly Conv2d _stem;
        private readonly Conv2d _down;

        public TwoLevelBackbone(Generator generator)
        {
            _stem = RegisterModule("stem", new Conv2d(1, 8, 3, stride: 4, padding: 1, generator: generator));
            _down = RegisterModule("down", new Conv2d(8, 8, 3, stride: 2, padding: 1, generator: generator));
        }

        public IReadOnlyList<Tensor> Forward(Tensor images)
        {
            var fine = Functional.Relu(_stem.Forward(images));
            return [fine, Functional.Relu(_down.Forward(fine))];
        }
    }

    private static FasterRcnn Build()
    {
        var generator = new Generator(21);
        var backbone = new TwoLevelBackbone(generator);
        var options = new FasterRcnnOptions
        {
            ClassCount = 3,
            AnchorSizes = [[8f], [16f]],
            AspectRatios = [[0.5f, 1f, 2f], [0.5f, 1f, 2f]],
            RpnPreNmsTopNTrain = 50, RpnPostNmsTopNTrain = 40, RpnPreNmsTopNTest = 50, RpnPostNmsTopNTest = 20,
            RpnBatchSizePerImage = 32, BoxBatchSizePerImage = 16, RepresentationSize = 32, RoiPoolSize = 4,
        };
        return new FasterRcnn(backbone, backbone.Forward, 8, options, generator);
    }

    [Fact]
    public void TrainsAndDetectsOverTwoLevels()
    {
        var model = Build();
        var (images, targets) = FasterRcnnTrainingTests.Squares(2, new Generator(3));
        // A second class on the second image exercises per-class targets.
        targets[1] = new DetectionTarget(targets[1].Boxes, Tensor.FromArray(new long[] { 2 }, 1));
        var losses = model.Losses(images, targets);
        var total = losses.Values.Aggregate((a, b) => a + b);
        Assert.True(float.IsFinite(total.Item()));
        total.Backward();
        foreach (var (name, parameter) in model.NamedParameters())
            Assert.True(parameter.Grad is not null, $"{name} got no gradient");
        Assert.Contains(model.NamedParameters(), p => p.Name == "backbone.down.weight" && p.Parameter.Grad!.Abs().Sum().Item() > 0);

        model.Eval();
        var detections = model.Detect(images);
        Assert.Equal(2, detections.Count);
        Assert.All(detections, d => Assert.All(d.Labels.ToArray<long>(), l => Assert.InRange(l, 1, 2)));
    }

    [Fact]
    public void FeatureMapCountMustMatchAnchorLevels()
    {
        var generator = new Generator(1);
        var backbone = new Sequential(new Conv2d(1, 4, 3, stride: 4, padding: 1, generator: generator));
        var options = new FasterRcnnOptions { AnchorSizes = [[8f], [16f]], AspectRatios = [[1f], [1f]], RepresentationSize = 8 };
        var model = new FasterRcnn(backbone, 4, options, generator);
        model.Eval();
        var error = Assert.Throws<ArgumentException>(() => model.Detect(Tensor.Zeros(1, 1, 32, 32)));
        Assert.Contains("1 feature map(s)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new FasterRcnn(backbone, 4, new FasterRcnnOptions { AnchorSizes = [[8f], [16f, 32f]], AspectRatios = [[1f], [1f]] }, generator));
    }
}

/// <summary>MultiScaleRoIAlign's level mapping and the reordering of pooled rows.</summary>
public sealed class MultiScaleRoiAlignTests
{
    [Fact]
    public void LevelMapperFollowsTheCanonicalScale()
    {
        // floor(4 + log2(side / 224)): side 112 -> 3, 111 -> 2, 224 -> 4, 896 -> 6 (clamped to 5), 8 -> clamped to 2.
        float[][] rows = [[0, 0, 0, 112, 112], [0, 0, 0, 111, 111], [0, 0, 0, 224, 224], [0, 0, 0, 896, 896], [0, 0, 0, 8, 8]];
        Assert.Equal([1, 0, 2, 3, 0], RoiHeads.MapLevels(rows, 2, 5));
    }

    [Fact]
    public void PooledRowsComeBackInBoxOrder()
    {
        var heads = new RoiHeads(1, new FasterRcnnOptions { RoiPoolSize = 2, RepresentationSize = 4 }, new Generator(0));
        // Image 512x512; level 0 at stride 4 is all 1, level 1 at stride 8 is all 2.
        var features = new[] { Tensor.Full([1, 1, 128, 128], 1f), Tensor.Full([1, 1, 64, 64], 2f) };
        List<float[]> proposals = [[10, 10, 30, 30, 0, 0, 200, 200, 40, 40, 60, 60, 100, 100, 300, 300]];
        var pooled = heads.Pool(features, proposals, (512, 512));
        Assert.Equal([4, 1, 2, 2], pooled.Shape.ToArray());
        var firstOfEach = Enumerable.Range(0, 4).Select(k => pooled.ToArray()[k * 4]).ToArray();
        Assert.Equal([1f, 2f, 1f, 2f], firstOfEach);
    }
}
