using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn.Heads;

/// <summary>
/// Depth regression: an upsampling decoder from the coarsest map — at each finer level the running
/// map is upsampled ×2-to-match (bilinear), a 1x1 "lateral" projection of the skip feature is
/// added, and a 3x3 conv-BN-ReLU refines — then a 3x3 "predict" conv to one channel, bilinear
/// upsampling to the input size, softplus plus <see cref="MinDepth"/>, so depths are strictly
/// positive even where softplus rounds to zero: [B, 1, H, W].
/// </summary>
public sealed class DepthHead : Module
{
    private readonly List<Conv2d> _laterals;
    private readonly List<Sequential> _refines;

    public DepthHead(IReadOnlyList<int> inChannels, int channels = 64, float minDepth = 1e-3f, Generator? generator = null)
    {
        if (!(minDepth > 0f))
            throw new ArgumentOutOfRangeException(nameof(minDepth), minDepth, "DepthHead: expected a positive minimum depth");
        MinDepth = minDepth;
        ArgumentNullException.ThrowIfNull(inChannels);
        if (inChannels.Count == 0)
            throw new ArgumentException("DepthHead: expected at least one input level", nameof(inChannels));
        _laterals = inChannels.Select(c => new Conv2d(c, channels, 1, generator: generator)).ToList();
        _refines = inChannels.Select(_ => ConvInit.ConvBnRelu(channels, channels, 3, 1, generator: generator)).ToList();
        Laterals = RegisterModule("laterals", new ModuleList<Conv2d>(_laterals));
        Refines = RegisterModule("refines", new ModuleList<Sequential>(_refines));
        Predict = RegisterModule("predict", new Conv2d(channels, 1, 3, padding: 1, generator: generator));
    }

    /// <summary>Added to the softplus output (the smallest depth the head can predict).</summary>
    public float MinDepth { get; }

    public ModuleList<Conv2d> Laterals { get; }
    public ModuleList<Sequential> Refines { get; }
    public Conv2d Predict { get; }

    /// <summary>features finest first → positive depth [B, 1, H, W] at <paramref name="outputSize"/>.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> features, (int Height, int Width) outputSize)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count != _laterals.Count)
            throw new ArgumentException($"DepthHead: expected {_laterals.Count} feature maps, found {features.Count}", nameof(features));
        var x = _refines[^1].Forward(_laterals[^1].Forward(features[^1]));
        for (int i = features.Count - 2; i >= 0; i--)
        {
            var skip = _laterals[i].Forward(features[i]);
            x = Functional.Interpolate(x, (skip.Size(2), skip.Size(3)), mode: InterpolationMode.Bilinear, alignCorners: false) + skip;
            x = _refines[i].Forward(x);
        }
        var raw = Functional.Interpolate(Predict.Forward(x), outputSize, mode: InterpolationMode.Bilinear, alignCorners: false);
        return Softplus(raw) + MinDepth;
    }

    /// <summary>log(1 + eˣ) in the overflow-free form max(x, 0) + log(1 + e^−|x|).</summary>
    public static Tensor Softplus(Tensor x) => Functional.Relu(x) + Functional.Log(1f + Functional.Exp(-Functional.Abs(x)));
}
