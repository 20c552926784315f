using Tessera.Autograd;

namespace Tessera.Models.Nn.Backbones;

/// <summary>
/// A backbone that detection and segmentation heads plug into: images [B, C, H, W] → feature maps
/// [B, FeatureChannels[i], H / FeatureStrides[i], W / FeatureStrides[i]], finest first.
/// </summary>
public interface IFeatureBackbone
{
    /// <summary>Channels of each returned map.</summary>
    IReadOnlyList<int> FeatureChannels { get; }

    /// <summary>Downsampling factor of each returned map relative to the input image.</summary>
    IReadOnlyList<int> FeatureStrides { get; }

    /// <summary>The feature maps, finest first.</summary>
    IReadOnlyList<Tensor> ForwardFeatures(Tensor images);
}
