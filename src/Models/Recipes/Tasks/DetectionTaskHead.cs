using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Detection;
using Tessera.Models.Metrics;
using Tessera.Models.Nn;
using Tessera.Models.Training;

namespace Tessera.Models.Recipes;

/// <summary>
/// Faster R-CNN-lite on a shared multi-scale backbone: an <see cref="Fpn"/> over the backbone's
/// maps, a <see cref="RegionProposalNetwork"/> and <see cref="RoiHeads"/> (state-dict names
/// "fpn", "rpn", "roi_heads"). Loss: the sum of torchvision's four losses (objectness, RPN box
/// regression, classifier, box regression), reported as batch metrics too. Proposal and RoI
/// sampling draw from the SIMT device's noise stream (checkpointed), so runs resume exactly.
/// Test metrics: COCO-style mAP (IoU 0.5:0.95) and AP50 over every image of the evaluated split.
/// Anchors: per level, sizes 2 and 4 times its stride, aspect ratios 0.5, 1, 2.
/// </summary>
public sealed class DetectionTaskHead : IEvaluatedHead
{
    private readonly Parts _parts;
    private readonly Generator _fallbackSampling;

    public DetectionTaskHead(IReadOnlyList<int> featureChannels, IReadOnlyList<int> featureStrides, int objectClasses, int channels, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(featureStrides);
        Options = new FasterRcnnOptions
        {
            ClassCount = objectClasses + 1,
            AnchorSizes = featureStrides.Select(s => new[] { 2f * s, 4f * s }).ToArray(),
            AspectRatios = featureStrides.Select(_ => new[] { 0.5f, 1f, 2f }).ToArray(),
            // Small images with a handful of objects: far fewer proposals and samples than COCO's defaults.
            RpnPreNmsTopNTrain = 300,
            RpnPostNmsTopNTrain = 150,
            RpnPreNmsTopNTest = 200,
            RpnPostNmsTopNTest = 100,
            RpnBatchSizePerImage = 64,
            BoxBatchSizePerImage = 64,
            RepresentationSize = 128,
            DetectionsPerImage = 50,
        };
        _parts = new Parts(featureChannels, channels, Options, generator);
        _fallbackSampling = new Generator(generator.Seed + 1);
    }

    public FasterRcnnOptions Options { get; }

    public Module Module => _parts;

    public TaskOutput Forward(Features features, TaskBatch batch)
    {
        var targets = Targets(batch);
        if (!_parts.Training)
            throw new InvalidOperationException("detection head: losses need training mode; evaluation goes through CreateEvaluation (mAP over the split)");
        var levels = _parts.Fpn.Forward(features.Maps);
        var imageSize = (batch.Inputs.Size(2), batch.Inputs.Size(3));
        var sampling = VirtualDevice.Current?.Noise ?? _fallbackSampling;
        var (proposals, losses) = _parts.Rpn.Forward(levels, imageSize, targets, sampling);
        foreach (var (name, loss) in _parts.RoiHeads.Losses(levels, proposals, imageSize, targets, sampling)) losses![name] = loss;
        Tensor? total = null;
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, loss) in losses!.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            total = total is null ? loss : total + loss;
            metrics[name] = loss.Item();
        }
        return new TaskOutput(total!, metrics);
    }

    /// <summary>Detections per image (eval mode; no gradients).</summary>
    public IReadOnlyList<Detections> Detect(Features features, TaskBatch batch)
    {
        using var noGrad = GradMode.NoGrad();
        var levels = _parts.Fpn.Forward(features.Maps);
        var imageSize = (batch.Inputs.Size(2), batch.Inputs.Size(3));
        var (proposals, _) = _parts.Rpn.Forward(levels, imageSize, null, _fallbackSampling);
        return _parts.RoiHeads.Detect(levels, proposals, imageSize);
    }

    public ITaskEvaluation CreateEvaluation() => new Evaluation(this);

    private static IReadOnlyList<DetectionTarget> Targets(TaskBatch batch) => batch.Targets as IReadOnlyList<DetectionTarget>
        ?? throw new ArgumentException($"detection head: targets expected one DetectionTarget per image, found {batch.Targets?.GetType().Name ?? "null"}", nameof(batch));

    private sealed class Evaluation(DetectionTaskHead head) : ITaskEvaluation
    {
        private readonly DetectionMeanAveragePrecision _map = new(head.Options.DetectionsPerImage);

        public void Add(Features features, TaskBatch batch)
        {
            var targets = Targets(batch);
            var detections = head.Detect(features, batch);
            for (int i = 0; i < targets.Count; i++) _map.Add(detections[i], targets[i]);
        }

        public IReadOnlyDictionary<string, double> Compute()
        {
            var result = _map.Compute();
            return new Dictionary<string, double> { ["mAP"] = result.MeanAp, ["AP50"] = result.Ap50 };
        }
    }

    private sealed class Parts : Module
    {
        public Parts(IReadOnlyList<int> featureChannels, int channels, FasterRcnnOptions options, Generator generator)
        {
            Fpn = RegisterModule("fpn", new Fpn(featureChannels, channels, generator));
            Rpn = RegisterModule("rpn", new RegionProposalNetwork(new AnchorGenerator(options.AnchorSizes, options.AspectRatios), channels, options, generator));
            RoiHeads = RegisterModule("roi_heads", new RoiHeads(channels, options, generator));
        }

        public Fpn Fpn { get; }
        public RegionProposalNetwork Rpn { get; }
        public RoiHeads RoiHeads { get; }
    }
}
