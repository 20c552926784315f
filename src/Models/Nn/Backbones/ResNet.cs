using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn.Backbones;

/// <summary>Which residual block a <see cref="ResNet"/> stacks.</summary>
public enum ResNetBlock
{
    Basic,
    Bottleneck,
}

/// <summary>
/// A ResNet in torchvision's layout and state-dict names: stem conv1 (7x7/2) + bn1 + ReLU +
/// maxpool (3x3/2), then stages layer1..layerN of blocks (the first block of stage i &gt; 1 has
/// stride 2), global average pool and fc (when <c>numClasses</c> &gt; 0). Widths are the
/// per-stage "planes" (64, 128, 256, 512 for ResNet-18/50); depths the blocks per stage.
/// Stage outputs are the multi-scale features at strides 4, 8, 16, 32.
/// </summary>
public sealed class ResNet : Layer, IFeatureBackbone
{
    private readonly List<Sequential> _stages = new();

    public ResNet(ResNetBlock block, IReadOnlyList<int> depths, IReadOnlyList<int>? widths = null, int numClasses = 1000, int inChannels = 3,
        int stemChannels = 64, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(depths);
        widths ??= Enumerable.Range(0, depths.Count).Select(i => 64 << i).ToArray();
        if (depths.Count == 0 || depths.Count != widths.Count || depths.Any(d => d < 1) || widths.Any(w => w < 1))
            throw new ArgumentException($"ResNet: expected one positive depth and width per stage, found depths [{string.Join(", ", depths)}] and widths [{string.Join(", ", widths)}]", nameof(depths));
        generator ??= Generator.Default;
        Block = block;
        Conv1 = RegisterModule("conv1", ConvInit.KaimingConv(inChannels, stemChannels, 7, 2, 3, generator: generator));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(stemChannels));
        int channels = stemChannels;
        var featureChannels = new List<int>();
        var featureStrides = new List<int>();
        for (int s = 0; s < depths.Count; s++)
        {
            var stage = new Sequential();
            for (int b = 0; b < depths[s]; b++)
            {
                int stride = b == 0 && s > 0 ? 2 : 1;
                if (block == ResNetBlock.Basic)
                {
                    var basic = new BasicBlock(channels, widths[s], stride, generator);
                    channels = basic.OutChannels;
                    stage.Add(basic);
                }
                else
                {
                    var bottleneck = new Bottleneck(channels, widths[s], stride, generator);
                    channels = bottleneck.OutChannels;
                    stage.Add(bottleneck);
                }
            }
            _stages.Add(RegisterModule($"layer{s + 1}", stage));
            featureChannels.Add(channels);
            featureStrides.Add(4 << s);
        }
        FeatureChannels = featureChannels;
        FeatureStrides = featureStrides;
        OutChannels = channels;
        if (numClasses > 0)
            Fc = RegisterModule("fc", new Linear(channels, numClasses, generator: generator));
    }

    /// <summary>ResNet-18: BasicBlock, depths 2-2-2-2.</summary>
    public static ResNet ResNet18(int numClasses = 1000, Generator? generator = null) => new(ResNetBlock.Basic, [2, 2, 2, 2], null, numClasses, generator: generator);

    /// <summary>ResNet-34: BasicBlock, depths 3-4-6-3.</summary>
    public static ResNet ResNet34(int numClasses = 1000, Generator? generator = null) => new(ResNetBlock.Basic, [3, 4, 6, 3], null, numClasses, generator: generator);

    /// <summary>ResNet-50: Bottleneck, depths 3-4-6-3.</summary>
    public static ResNet ResNet50(int numClasses = 1000, Generator? generator = null) => new(ResNetBlock.Bottleneck, [3, 4, 6, 3], null, numClasses, generator: generator);

    public ResNetBlock Block { get; }
    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn1 { get; }
    public IReadOnlyList<Sequential> Stages => _stages;
    public Linear? Fc { get; }

    /// <summary>Channels of the last stage (the pooled feature size).</summary>
    public int OutChannels { get; }

    public IReadOnlyList<int> FeatureChannels { get; }

    public IReadOnlyList<int> FeatureStrides { get; }

    public IReadOnlyList<Tensor> ForwardFeatures(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rank != 4)
            throw new TensorShapeException($"ResNet: expected images [B, C, H, W], found {Shapes.Format(images.Shape)}", nameof(images));
        var x = Bn1.Forward(Conv1.Forward(images)).Relu();
        x = Functional.MaxPool2d(x, 3, 2, 1);
        var features = new List<Tensor>(_stages.Count);
        foreach (var stage in _stages)
        {
            x = stage.Forward(x);
            features.Add(x);
        }
        return features;
    }

    /// <summary>Logits [B, numClasses], or the pooled features [B, OutChannels] without a classifier.</summary>
    public override Tensor Forward(Tensor input)
    {
        var pooled = Functional.GlobalAvgPool2d(ForwardFeatures(input)[^1]).Flatten(1);
        return Fc?.Forward(pooled) ?? pooled;
    }
}
