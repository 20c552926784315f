using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Training;

namespace Tessera.Models.Recipes;

/// <summary>A backbone whose features are several maps (finest first) that dense and detection heads read.</summary>
public interface IMultiScaleBackbone : IMultiTaskBackbone
{
    /// <summary>Channels of each map, finest first.</summary>
    IReadOnlyList<int> FeatureChannels { get; }

    /// <summary>Downsampling factor of each map.</summary>
    IReadOnlyList<int> FeatureStrides { get; }
}

/// <summary>
/// A narrow ResNet (<see cref="ResNet"/>, basic blocks, stem of <c>width</c> channels, stages of
/// width, 2·width, 4·width with <c>depth</c> blocks each) shared by every task (hard sharing):
/// features at strides 4, 8 and 16, finest first. Its batch norms follow the SIMT device's SyncBN.
/// </summary>
public sealed class NarrowResNetBackbone : IMultiScaleBackbone
{
    private readonly ResNet _resnet;

    public NarrowResNetBackbone(int inChannels, int width, int depth, Generator generator)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        _resnet = new ResNet(ResNetBlock.Basic, [depth, depth, depth], [width, 2 * width, 4 * width], numClasses: 0, inChannels: inChannels,
            stemChannels: width, generator: generator);
    }

    public Module Module => _resnet;

    public IReadOnlyList<int> FeatureChannels => _resnet.FeatureChannels;

    public IReadOnlyList<int> FeatureStrides => _resnet.FeatureStrides;

    public Features Forward(string task, Tensor input) => new(_resnet.ForwardFeatures(input));
}
