using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn.Heads;

/// <summary>
/// Semantic segmentation, FPN/UperNet-lite: an <see cref="Fpn"/> over the backbone levels, a
/// 3x3 conv-BN-ReLU per level, every level upsampled (bilinear) to the finest one and
/// concatenated, a 3x3 "fuse" conv-BN-ReLU, a 1x1 "classifier", and bilinear upsampling to the
/// input size → logits [B, numClasses, H, W].
/// </summary>
public sealed class FpnSegmentationHead : Module
{
    private readonly List<Sequential> _levelConvs;

    public FpnSegmentationHead(IReadOnlyList<int> inChannels, int numClasses, int channels = 64, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(inChannels);
        Fpn = RegisterModule("fpn", new Fpn(inChannels, channels, generator));
        _levelConvs = inChannels.Select(_ => ConvInit.ConvBnRelu(channels, channels, 3, 1, generator: generator)).ToList();
        LevelConvs = RegisterModule("level_convs", new ModuleList<Sequential>(_levelConvs));
        Fuse = RegisterModule("fuse", ConvInit.ConvBnRelu(channels * inChannels.Count, channels, 3, 1, generator: generator));
        Classifier = RegisterModule("classifier", new Conv2d(channels, numClasses, 1, generator: generator));
    }

    public Fpn Fpn { get; }
    public ModuleList<Sequential> LevelConvs { get; }
    public Sequential Fuse { get; }
    public Conv2d Classifier { get; }

    /// <summary>features finest first (as <see cref="Backbones.IFeatureBackbone"/> returns them) → logits at <paramref name="outputSize"/>.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> features, (int Height, int Width) outputSize)
    {
        var levels = Fpn.Forward(features);
        var target = (levels[0].Size(2), levels[0].Size(3));
        var resized = new Tensor[levels.Count];
        for (int i = 0; i < levels.Count; i++)
        {
            var y = _levelConvs[i].Forward(levels[i]);
            resized[i] = i == 0 ? y : Functional.Interpolate(y, target, mode: InterpolationMode.Bilinear, alignCorners: false);
        }
        var logits = Classifier.Forward(Fuse.Forward(Functional.Cat(resized, 1)));
        return Functional.Interpolate(logits, outputSize, mode: InterpolationMode.Bilinear, alignCorners: false);
    }
}

/// <summary>
/// Atrous spatial pyramid pooling, torchvision's ASPP with its state-dict names: "convs.0" a 1x1
/// conv-BN-ReLU, "convs.1..k" 3x3 atrous conv-BN-ReLU at each rate, and "convs.k+1" image pooling
/// (global average, then 1x1 conv-BN-ReLU as items 1-3, broadcast back over the map); the
/// branches are concatenated and "project"ed by a 1x1 conv-BN-ReLU with dropout.
/// </summary>
public sealed class Aspp : Layer
{
    private readonly List<Sequential> _branches;

    public Aspp(int inChannels, IReadOnlyList<int> rates, int outChannels = 64, float dropout = 0.1f, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(rates);
        if (rates.Count == 0 || rates.Any(r => r < 1))
            throw new ArgumentException($"Aspp: expected one or more positive atrous rates, found [{string.Join(", ", rates)}]", nameof(rates));
        _branches = [ConvInit.ConvBnRelu(inChannels, outChannels, 1, generator: generator)];
        foreach (int rate in rates)
            _branches.Add(ConvInit.ConvBnRelu(inChannels, outChannels, 3, padding: rate, dilation: rate, generator: generator));
        var pooling = ConvInit.ConvBnRelu(inChannels, outChannels, 1, generator: generator);
        _branches.Add(new Sequential(new Lambda("AdaptiveAvgPool2d", Functional.GlobalAvgPool2d), pooling.Layers[0], pooling.Layers[1], pooling.Layers[2]));
        Convs = RegisterModule("convs", new ModuleList<Sequential>(_branches));
        Project = RegisterModule("project", new Sequential(
            ConvInit.KaimingConv(outChannels * _branches.Count, outChannels, 1, generator: generator), new BatchNorm2d(outChannels), Lambda.Relu(), new Dropout(dropout, generator)));
    }

    public ModuleList<Sequential> Convs { get; }
    public Sequential Project { get; }

    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        int height = input.Size(2), width = input.Size(3);
        var outputs = new Tensor[_branches.Count];
        for (int i = 0; i < _branches.Count - 1; i++) outputs[i] = _branches[i].Forward(input);
        var pooled = _branches[^1].Forward(input); // [B, C, 1, 1]
        outputs[^1] = pooled.Expand(pooled.Size(0), pooled.Size(1), height, width);
        return Project.Forward(Functional.Cat(outputs, 1));
    }
}

/// <summary>
/// Semantic segmentation, DeepLab-lite: <see cref="Aspp"/> on the coarsest backbone map, a 3x3
/// conv-BN-ReLU ("refine"), a 1x1 "classifier", then bilinear upsampling to the input size.
/// </summary>
public sealed class DeepLabHead : Module
{
    public DeepLabHead(int inChannels, int numClasses, IReadOnlyList<int>? rates = null, int channels = 64, Generator? generator = null)
    {
        Aspp = RegisterModule("aspp", new Aspp(inChannels, rates ?? [6, 12, 18], channels, 0.1f, generator));
        Refine = RegisterModule("refine", ConvInit.ConvBnRelu(channels, channels, 3, 1, generator: generator));
        Classifier = RegisterModule("classifier", new Conv2d(channels, numClasses, 1, generator: generator));
    }

    public Aspp Aspp { get; }
    public Sequential Refine { get; }
    public Conv2d Classifier { get; }

    /// <summary>The coarsest of <paramref name="features"/> → logits [B, numClasses, H, W] at <paramref name="outputSize"/>.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> features, (int Height, int Width) outputSize)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count == 0)
            throw new ArgumentException("DeepLabHead: expected at least one feature map", nameof(features));
        var logits = Classifier.Forward(Refine.Forward(Aspp.Forward(features[^1])));
        return Functional.Interpolate(logits, outputSize, mode: InterpolationMode.Bilinear, alignCorners: false);
    }
}
