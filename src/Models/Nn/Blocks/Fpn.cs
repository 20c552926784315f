using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>
/// Feature pyramid network (torchvision FeaturePyramidNetwork): a lateral 1x1 conv per level
/// ("inner_blocks.i.0"), a top-down path that adds the nearest-upsampled coarser level, and a
/// 3x3 output conv per level ("layer_blocks.i.0"); convs init kaiming_uniform(a = 1), bias 0.
/// Input: feature maps from fine to coarse; output: one map per level with
/// <see cref="OutChannels"/> channels at the same resolutions.
/// </summary>
public sealed class Fpn : Module
{
    public Fpn(IReadOnlyList<int> inChannels, int outChannels, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(inChannels);
        if (inChannels.Count == 0)
            throw new ArgumentException("Fpn: expected at least one input level", nameof(inChannels));
        generator ??= Generator.Default;
        InChannels = [.. inChannels];
        OutChannels = outChannels;
        InnerBlocks = RegisterModule("inner_blocks", new ModuleList<Sequential>(inChannels.Select(c => new Sequential(Conv(c, outChannels, 1, generator)))));
        LayerBlocks = RegisterModule("layer_blocks", new ModuleList<Sequential>(inChannels.Select(_ => new Sequential(Conv(outChannels, outChannels, 3, generator)))));
    }

    public IReadOnlyList<int> InChannels { get; }
    public int OutChannels { get; }
    public ModuleList<Sequential> InnerBlocks { get; }
    public ModuleList<Sequential> LayerBlocks { get; }

    /// <summary>features[i] [B, InChannels[i], H_i, W_i], finest first → [B, OutChannels, H_i, W_i] each.</summary>
    public IReadOnlyList<Tensor> Forward(IReadOnlyList<Tensor> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count != InChannels.Count)
            throw new ArgumentException($"Fpn: expected {InChannels.Count} feature maps, found {features.Count}", nameof(features));
        for (int i = 0; i < features.Count; i++)
            if (features[i].Rank != 4 || features[i].Size(1) != InChannels[i])
                throw new TensorShapeException($"Fpn: level {i} expected [B, {InChannels[i]}, H, W], found {Shapes.Format(features[i].Shape)}", nameof(features));
        var outputs = new Tensor[features.Count];
        var last = InnerBlocks[^1].Forward(features[^1]);
        outputs[^1] = LayerBlocks[^1].Forward(last);
        for (int i = features.Count - 2; i >= 0; i--)
        {
            var lateral = InnerBlocks[i].Forward(features[i]);
            var topDown = Functional.Interpolate(last, (lateral.Size(2), lateral.Size(3)), mode: InterpolationMode.Nearest);
            last = lateral + topDown;
            outputs[i] = LayerBlocks[i].Forward(last);
        }
        return outputs;
    }

    private static Conv2d Conv(int inChannels, int outChannels, int kernelSize, Generator generator)
    {
        var conv = new Conv2d(inChannels, outChannels, kernelSize, padding: kernelSize / 2, generator: generator);
        InitRules.Assign(conv.Weight, InitRules.KaimingUniform(conv.Weight.ShapeArray, inChannels * kernelSize * kernelSize, 1f, generator));
        InitRules.Assign(conv.Bias!, InitRules.Constant([outChannels], 0f));
        return conv;
    }
}
