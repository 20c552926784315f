using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;

namespace Tessera.Models.Detection;

/// <summary>
/// Faster R-CNN, lite: a backbone producing one feature map or a list of maps (finest first, all
/// with the same channel count), a <see cref="RegionProposalNetwork"/> and <see cref="RoiHeads"/>,
/// with torchvision's semantics but no image resizing or normalisation (images are a batch tensor
/// [N, C, H, W] used as is; boxes are in its pixel coordinates). In training mode
/// <see cref="Forward"/> returns the four losses of torchvision ("loss_objectness",
/// "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"); in eval mode the detections per image.
/// </summary>
public sealed class FasterRcnn : Module
{
    private readonly Func<Tensor, IReadOnlyList<Tensor>> _featureMaps;
    private readonly RegionProposalNetwork _rpn;
    private readonly RoiHeads _roiHeads;

    /// <summary>A detector over a single-map backbone with <paramref name="outChannels"/> channels.</summary>
    public FasterRcnn(Layer backbone, int outChannels, FasterRcnnOptions options, Generator generator, Generator? samplingGenerator = null)
        : this(backbone, x => [backbone.Forward(x)], outChannels, options, generator, samplingGenerator)
    {
    }

    /// <summary>
    /// A detector over any backbone module; <paramref name="featureMaps"/> runs it and returns its
    /// maps (FPN levels, finest first), each with <paramref name="outChannels"/> channels.
    /// </summary>
    public FasterRcnn(Module backbone, Func<Tensor, IReadOnlyList<Tensor>> featureMaps, int outChannels, FasterRcnnOptions options,
        Generator generator, Generator? samplingGenerator = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(featureMaps);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        options.Validate();
        Options = options;
        _featureMaps = featureMaps;
        RegisterModule("backbone", backbone);
        _rpn = RegisterModule("rpn", new RegionProposalNetwork(new AnchorGenerator(options.AnchorSizes, options.AspectRatios), outChannels, options, generator));
        _roiHeads = RegisterModule("roi_heads", new RoiHeads(outChannels, options, generator));
        SamplingGenerator = samplingGenerator ?? new Generator(generator.Seed + 1);
    }

    public FasterRcnnOptions Options { get; }

    /// <summary>Draws the RPN and RoI-head samples; save and restore its state to resume exactly.</summary>
    public Generator SamplingGenerator { get; }

    /// <summary>Training mode: losses (targets required). Eval mode: detections (targets ignored).</summary>
    public FasterRcnnOutput Forward(Tensor images, IReadOnlyList<DetectionTarget>? targets = null) =>
        Training ? new FasterRcnnOutput(Losses(images, targets ?? throw new ArgumentException("FasterRcnn: training mode needs targets (one per image); call Eval() to detect", nameof(targets))), null)
                 : new FasterRcnnOutput(null, Detect(images));

    /// <summary>The four losses of one batch (training mode); their sum is the training objective.</summary>
    public IReadOnlyDictionary<string, Tensor> Losses(Tensor images, IReadOnlyList<DetectionTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (!Training)
            throw new InvalidOperationException("FasterRcnn: Losses needs training mode (the RPN keeps the training top-k); call Train() first");
        var (features, imageSize) = Features(images);
        if (targets.Count != images.Size(0))
            throw new ArgumentException($"FasterRcnn: expected one target per image ({images.Size(0)}), found {targets.Count}", nameof(targets));
        for (int i = 0; i < targets.Count; i++) targets[i].Validate(i, Options.ClassCount);
        var (proposals, rpnLosses) = _rpn.Forward(features, imageSize, targets, SamplingGenerator);
        var boxLosses = _roiHeads.Losses(features, proposals, imageSize, targets, SamplingGenerator);
        foreach (var (name, loss) in boxLosses) rpnLosses![name] = loss;
        return rpnLosses!;
    }

    /// <summary>Detections per image (eval mode expected; gradients are not recorded).</summary>
    public IReadOnlyList<Detections> Detect(Tensor images)
    {
        using var noGrad = GradMode.NoGrad();
        var (features, imageSize) = Features(images);
        var (proposals, _) = _rpn.Forward(features, imageSize, null, SamplingGenerator);
        return _roiHeads.Detect(features, proposals, imageSize);
    }

    private (IReadOnlyList<Tensor> Features, (int Height, int Width) ImageSize) Features(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rank != 4 || images.DType != DType.Float32)
            throw new ArgumentException($"FasterRcnn: images expected float32 [N, C, H, W], found {images.DType.Name()} of shape {Shapes.Format(images.Shape)}", nameof(images));
        var features = _featureMaps(images);
        if (features.Count != _rpn.AnchorGenerator.LevelCount)
            throw new ArgumentException($"FasterRcnn: the backbone returned {features.Count} feature map(s) but anchors are configured for {_rpn.AnchorGenerator.LevelCount}; give one AnchorSizes/AspectRatios entry per map", nameof(images));
        return (features, (images.Size(2), images.Size(3)));
    }
}
