using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Nn.Heads;
using Xunit;

namespace Tessera.Tests.Nn;

/// <summary>Backbones expose multi-scale maps at the documented strides; heads produce the documented shapes.</summary>
public sealed class ModelShapeTests
{
    private static Tensor Images(int batchSize, int height, int width) => Tensor.Randn([batchSize, 3, height, width], new Generator(21));

    private static void AssertPyramid(IFeatureBackbone backbone, Tensor images)
    {
        var features = backbone.ForwardFeatures(images);
        Assert.Equal(backbone.FeatureStrides.Count, features.Count);
        for (int i = 0; i < features.Count; i++)
        {
            int stride = backbone.FeatureStrides[i];
            Assert.Equal([images.Size(0), backbone.FeatureChannels[i], images.Size(2) / stride, images.Size(3) / stride], features[i].Shape.ToArray());
        }
    }

    [Theory]
    [InlineData(32, 32)]
    [InlineData(64, 96)]
    public void SmallResNetGivesFeaturesAtStrides4To32AndLogits(int height, int width)
    {
        var resnet = new ResNet(ResNetBlock.Basic, [1, 1, 1, 1], [8, 16, 24, 32], numClasses: 5, generator: new Generator(1));
        Assert.Equal([4, 8, 16, 32], resnet.FeatureStrides);
        Assert.Equal([8, 16, 24, 32], resnet.FeatureChannels);
        var images = Images(2, height, width);
        AssertPyramid(resnet, images);
        Assert.Equal([2, 5], resnet.Forward(images).Shape.ToArray());
        var bottleneck = new ResNet(ResNetBlock.Bottleneck, [1, 2], [4, 8], numClasses: 0, stemChannels: 8, generator: new Generator(1));
        Assert.Equal([16, 32], bottleneck.FeatureChannels);
        AssertPyramid(bottleneck, images);
        Assert.Equal([2, 32], bottleneck.Forward(images).Shape.ToArray());
    }

    [Theory]
    [InlineData(VitPooling.ClsToken, 32)]
    [InlineData(VitPooling.Mean, 48)]
    public void VitExposesTokensAndAMap(VitPooling pooling, int size)
    {
        var vit = new VisionTransformer(imageSize: 32, patchSize: 8, embedDim: 16, depth: 2, numHeads: 2, numClasses: 7, pooling: pooling, generator: new Generator(2));
        var images = Images(2, size, size);
        int patches = size / 8 * (size / 8), prefix = pooling == VitPooling.ClsToken ? 1 : 0;
        Assert.Equal([2, prefix + patches, 16], vit.ForwardTokens(images).Shape.ToArray());
        AssertPyramid(vit, images);
        Assert.Equal([2, 7], vit.Forward(images).Shape.ToArray());
        Assert.Equal(pooling == VitPooling.ClsToken, vit.StateDict().ContainsKey("cls_token"));
        Assert.Contains("blocks.1.attn.in_proj_weight", vit.StateDict().Keys);
        Assert.Equal([1, prefix + 16, 16], vit.PosEmbed.Shape.ToArray());
    }

    [Theory]
    [InlineData(32, 32)]
    [InlineData(64, 32)]
    public void SwinGivesFeaturesAtStrides4To32(int height, int width)
    {
        var swin = new SwinTransformer(embedDim: 8, depths: [2, 2, 2, 2], numHeads: [1, 1, 2, 2], windowSize: 2, numClasses: 3, generator: new Generator(3));
        Assert.Equal([4, 8, 16, 32], swin.FeatureStrides);
        Assert.Equal([8, 16, 32, 64], swin.FeatureChannels);
        var images = Images(1, height, width);
        AssertPyramid(swin, images);
        Assert.Equal([1, 3], swin.Forward(images).Shape.ToArray());
        var keys = swin.StateDict().Keys.ToHashSet();
        Assert.Contains("layers.0.blocks.1.attn.relative_position_index", keys);
        Assert.Contains("layers.2.downsample.reduction.weight", keys);
        Assert.DoesNotContain("layers.3.downsample.reduction.weight", keys);
        Assert.Equal(1, swin.Layers[0].Blocks[1].ShiftSize);
    }

    [Theory]
    [InlineData(32, 32)]
    [InlineData(64, 48)]
    public void HeadsOnAResNetPyramid(int height, int width)
    {
        var backbone = new ResNet(ResNetBlock.Basic, [1, 1, 1, 1], [8, 8, 16, 16], numClasses: 0, stemChannels: 8, generator: new Generator(4));
        var images = Images(2, height, width);
        var features = backbone.ForwardFeatures(images);

        Assert.Equal([2, 6], new ClassificationHead(16, 6, generator: new Generator(5)).Forward(features[^1]).Shape.ToArray());
        var multiLabel = new MultiLabelHead(16, 4, generator: new Generator(5));
        var logits = multiLabel.Forward(features[^1]);
        Assert.Equal([2, 4], logits.Shape.ToArray());
        var targets = Tensor.FromArray(new float[] { 1, 0, 1, 0, 0, 0, 1, 1 }, 2, 4);
        var loss = MultiLabelHead.Loss(logits, targets);
        Assert.Equal(Functional.BinaryCrossEntropyWithLogits(logits, targets).Item(), loss.Item());
        Assert.All(MultiLabelHead.Probabilities(logits).ToArray(), p => Assert.InRange(p, 0f, 1f));

        var fpnHead = new FpnSegmentationHead(backbone.FeatureChannels, 5, channels: 8, generator: new Generator(6));
        Assert.Equal([2, 5, height, width], fpnHead.Forward(features, (height, width)).Shape.ToArray());
        var deepLab = new DeepLabHead(16, 5, [1, 2, 3], channels: 8, generator: new Generator(7));
        Assert.Equal(5, deepLab.Aspp.Convs.Count);
        Assert.Equal([2, 5, height, width], deepLab.Forward(features, (height, width)).Shape.ToArray());
        var depth = new DepthHead(backbone.FeatureChannels, channels: 8, generator: new Generator(8));
        var predicted = depth.Forward(features, (height, width));
        Assert.Equal([2, 1, height, width], predicted.Shape.ToArray());
        Assert.All(predicted.ToArray(), d => Assert.True(d > 0f));
    }

    [Fact]
    public void DepthIsPositiveEvenForHugeNegativeLogits()
    {
        var softplus = DepthHead.Softplus(Tensor.FromArray(new float[] { -200f, 0f, 50f }, 3)).ToArray();
        Assert.Equal(0f, softplus[0]);
        Assert.Equal(MathF.Log(2f), softplus[1], 5);
        Assert.Equal(50f, softplus[2], 3);
    }

    [Fact]
    public void SegmentationLossTrainsThroughTheWholeStack()
    {
        var backbone = new ResNet(ResNetBlock.Basic, [1, 1], [4, 8], numClasses: 0, stemChannels: 4, generator: new Generator(9));
        var head = new FpnSegmentationHead(backbone.FeatureChannels, 3, channels: 4, generator: new Generator(9));
        var images = Images(2, 16, 16);
        var logits = head.Forward(backbone.ForwardFeatures(images), (16, 16));
        var target = Tensor.FromArray(Enumerable.Range(0, 2 * 16 * 16).Select(i => (long)(i % 3)).ToArray(), 2, 16, 16);
        Functional.CrossEntropy(logits, target).Backward();
        Assert.All(backbone.Parameters().Concat(head.Fpn.Parameters()), p => Assert.NotNull(p.Grad));
    }
}
