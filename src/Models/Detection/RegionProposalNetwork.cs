using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Detection;

/// <summary>
/// torchvision's RPNHead: a shared 3x3 conv + ReLU, then 1x1 convs for one objectness logit and
/// four box deltas per anchor. Weights start N(0, 0.01²) with zero bias, as in torchvision.
/// </summary>
public sealed class RpnHead : Module
{
    private readonly Conv2d _conv;
    private readonly Conv2d _classLogits;
    private readonly Conv2d _boxPrediction;

    public RpnHead(int inChannels, int anchorsPerLocation, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _conv = RegisterModule("conv", NormalInit(new Conv2d(inChannels, inChannels, 3, padding: 1, generator: generator), generator));
        _classLogits = RegisterModule("cls_logits", NormalInit(new Conv2d(inChannels, anchorsPerLocation, 1, generator: generator), generator));
        _boxPrediction = RegisterModule("bbox_pred", NormalInit(new Conv2d(inChannels, anchorsPerLocation * 4, 1, generator: generator), generator));
    }

    /// <summary>Objectness [N, A, H, W] and box deltas [N, 4A, H, W] of one feature map.</summary>
    public (Tensor Objectness, Tensor Deltas) Forward(Tensor feature)
    {
        var hidden = F.Relu(_conv.Forward(feature));
        return (_classLogits.Forward(hidden), _boxPrediction.Forward(hidden));
    }

    internal static Conv2d NormalInit(Conv2d conv, Generator generator)
    {
        using (GradMode.NoGrad())
        {
            conv.Weight.CopyFrom(Init.Normal(conv.Weight.ShapeArray, 0.01f, generator));
            conv.Bias?.Zero();
        }
        return conv;
    }
}

/// <summary>
/// torchvision's RegionProposalNetwork: scores every anchor, decodes the best ones into proposals
/// (per level top-k, clip, drop tiny boxes, NMS per level, top-k overall) and, in training, the
/// objectness (BCE) and box (smooth L1, beta 1/9) losses over a balanced sample of anchors
/// matched with IoU thresholds 0.7 / 0.3 and low-quality matches allowed.
/// </summary>
public sealed class RegionProposalNetwork : Module
{
    private static readonly (float, float, float, float) UnitWeights = (1f, 1f, 1f, 1f);
    private readonly RpnHead _head;
    private readonly FasterRcnnOptions _options;
    private readonly Matcher _matcher;
    private readonly BalancedPositiveNegativeSampler _sampler;

    public RegionProposalNetwork(AnchorGenerator anchorGenerator, int inChannels, FasterRcnnOptions options, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(anchorGenerator);
        ArgumentNullException.ThrowIfNull(options);
        int perLocation = anchorGenerator.AnchorsPerLocation(0);
        for (int level = 1; level < anchorGenerator.LevelCount; level++)
            if (anchorGenerator.AnchorsPerLocation(level) != perLocation)
                throw new ArgumentException($"RegionProposalNetwork: the shared RPN head needs the same number of anchors per location on every level, found {perLocation} on level 0 and {anchorGenerator.AnchorsPerLocation(level)} on level {level}", nameof(anchorGenerator));
        AnchorGenerator = anchorGenerator;
        _options = options;
        _head = RegisterModule("head", new RpnHead(inChannels, perLocation, generator));
        _matcher = new Matcher(options.RpnForegroundIouThreshold, options.RpnBackgroundIouThreshold, allowLowQualityMatches: true);
        _sampler = new BalancedPositiveNegativeSampler(options.RpnBatchSizePerImage, options.RpnPositiveFraction);
    }

    public AnchorGenerator AnchorGenerator { get; }

    /// <summary>
    /// Proposals per image (flat [P, 4] arrays, best first) and, when <paramref name="targets"/>
    /// is given, the losses "loss_objectness" and "loss_rpn_box_reg".
    /// </summary>
    public (List<float[]> Proposals, Dictionary<string, Tensor>? Losses) Forward(IReadOnlyList<Tensor> features, (int Height, int Width) imageSize,
        IReadOnlyList<DetectionTarget>? targets, Generator samplingGenerator)
    {
        int batch = features[0].Size(0);
        var objectnessLevels = new List<Tensor>();
        var deltaLevels = new List<Tensor>();
        var levelSizes = new List<(int Height, int Width)>();
        var levelCounts = new List<int>();
        foreach (var feature in features)
        {
            var (objectness, deltas) = _head.Forward(feature);
            int anchors = objectness.Size(1), height = objectness.Size(2), width = objectness.Size(3);
            // [N, A, H, W] -> [N, H·W·A] and [N, 4A, H, W] -> [N, H·W·A, 4]: the anchors' order.
            objectnessLevels.Add(objectness.Permute(0, 2, 3, 1).Reshape(batch, height * width * anchors));
            deltaLevels.Add(deltas.Reshape(batch, anchors, 4, height, width).Permute(0, 3, 4, 1, 2).Reshape(batch, height * width * anchors, 4));
            levelSizes.Add((height, width));
            levelCounts.Add(height * width * anchors);
        }
        var allObjectness = objectnessLevels.Count == 1 ? objectnessLevels[0] : F.Cat(objectnessLevels, 1);
        var allDeltas = deltaLevels.Count == 1 ? deltaLevels[0] : F.Cat(deltaLevels, 1);
        int total = levelCounts.Sum();
        float[] anchorBoxes = AnchorGenerator.Anchors(levelSizes, imageSize).ToArray();

        var proposals = FilterProposals(allObjectness, allDeltas, anchorBoxes, levelCounts, imageSize, batch, total);
        if (targets is null)
            return (proposals, null);
        return (proposals, Losses(allObjectness, allDeltas, anchorBoxes, targets, batch, total, samplingGenerator));
    }

    private List<float[]> FilterProposals(Tensor objectness, Tensor deltas, float[] anchors, List<int> levelCounts,
        (int Height, int Width) imageSize, int batch, int total)
    {
        float[] scores;
        float[] decoded;
        using (GradMode.NoGrad())
        {
            scores = objectness.Detach().Contiguous().ToArray();
            var repeated = new float[batch * anchors.Length];
            for (int n = 0; n < batch; n++) Array.Copy(anchors, 0, repeated, n * anchors.Length, anchors.Length);
            decoded = F.BoxDecode(deltas.Detach().Reshape(batch * total, 4), BoxArrays.ToTensor(repeated).To(deltas.Device), UnitWeights).ToArray();
        }
        int preNms = Training ? _options.RpnPreNmsTopNTrain : _options.RpnPreNmsTopNTest;
        int postNms = Training ? _options.RpnPostNmsTopNTrain : _options.RpnPostNmsTopNTest;
        var result = new List<float[]>(batch);
        for (int n = 0; n < batch; n++)
        {
            var chosen = new List<int>();
            var levels = new List<long>();
            int start = 0;
            for (int level = 0; level < levelCounts.Count; level++)
            {
                foreach (int k in BoxArrays.TopK(scores.AsSpan(n * total + start, levelCounts[level]), preNms))
                {
                    chosen.Add(n * total + start + k);
                    levels.Add(level);
                }
                start += levelCounts[level];
            }
            var boxes = BoxArrays.Rows(decoded, chosen);
            var probabilities = chosen.Select(i => 1f / (1f + MathF.Exp(-scores[i]))).ToArray();
            BoxArrays.Clip(boxes, imageSize.Height, imageSize.Width);
            var keep = BoxArrays.NotSmall(boxes, _options.RpnMinSize).Where(i => probabilities[i] >= _options.RpnScoreThreshold).ToList();
            boxes = BoxArrays.Rows(boxes, keep);
            probabilities = BoxArrays.Pick(probabilities, keep);
            var levelIds = BoxArrays.Pick(levels.ToArray(), keep);
            var kept = BoxArrays.BatchedNms(boxes, probabilities, levelIds, _options.RpnNmsThreshold);
            result.Add(BoxArrays.Rows(boxes, kept.Take(postNms).ToArray()));
        }
        return result;
    }

    private Dictionary<string, Tensor> Losses(Tensor objectness, Tensor deltas, float[] anchors, IReadOnlyList<DetectionTarget> targets,
        int batch, int total, Generator samplingGenerator)
    {
        var positive = new List<int>();
        var sampled = new List<int>();
        var sampledLabels = new List<float>();
        var regressionTargets = new List<Tensor>();
        for (int n = 0; n < batch; n++)
        {
            float[] groundTruth = targets[n].BoxArray();
            var matches = _matcher.Match(BoxArrays.Iou(groundTruth, anchors), groundTruth.Length / 4, total);
            var labels = matches.Select(m => m >= 0 ? 1 : m == Matcher.BelowLowThreshold ? 0 : -1).ToArray();
            var matchedBoxes = groundTruth.Length == 0 ? new float[anchors.Length] : BoxArrays.Rows(groundTruth, matches.Select(m => Math.Max(m, 0)).ToArray());
            regressionTargets.Add(F.BoxEncode(BoxArrays.ToTensor(matchedBoxes), BoxArrays.ToTensor(anchors), UnitWeights));
            var (pos, neg) = _sampler.Sample(labels, samplingGenerator);
            positive.AddRange(pos.Select(i => n * total + i));
            foreach (int i in pos.Concat(neg).Order())
            {
                sampled.Add(n * total + i);
                sampledLabels.Add(labels[i]);
            }
        }
        // Targets are matched on the host; the losses run where the predictions are.
        var device = deltas.Device;
        var flatDeltas = deltas.Reshape(batch * total, 4);
        var allTargets = regressionTargets.Count == 1 ? regressionTargets[0] : F.Cat(regressionTargets, 0);
        var positiveIndex = BoxArrays.Index(positive);
        var boxLoss = positive.Count == 0
            ? F.Sum(flatDeltas) * 0f
            : F.SmoothL1Loss(flatDeltas.IndexSelect(0, positiveIndex.To(device)), allTargets.IndexSelect(0, positiveIndex).To(device), Reduction.Sum, beta: 1f / 9f) / Math.Max(sampled.Count, 1);
        var objectnessLoss = F.BinaryCrossEntropyWithLogits(objectness.Reshape(batch * total).IndexSelect(0, BoxArrays.Index(sampled).To(device)),
            Tensor.FromArray(sampledLabels.ToArray(), sampledLabels.Count).To(device));
        return new Dictionary<string, Tensor>(StringComparer.Ordinal) { ["loss_objectness"] = objectnessLoss, ["loss_rpn_box_reg"] = boxLoss };
    }
}
