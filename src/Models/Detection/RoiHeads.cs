using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Detection;

/// <summary>torchvision's TwoMLPHead: flatten, then two Linear + ReLU layers.</summary>
public sealed class TwoMlpHead : Layer
{
    private readonly Linear _fc6;
    private readonly Linear _fc7;

    public TwoMlpHead(int inFeatures, int representationSize, Generator generator)
    {
        _fc6 = RegisterModule("fc6", new Linear(inFeatures, representationSize, generator: generator));
        _fc7 = RegisterModule("fc7", new Linear(representationSize, representationSize, generator: generator));
    }

    public override Tensor Forward(Tensor input) => F.Relu(_fc7.Forward(F.Relu(_fc6.Forward(input.Flatten(1)))));
}

/// <summary>torchvision's FastRCNNPredictor: class logits [K, C] and class-specific box deltas [K, 4C].</summary>
public sealed class FastRcnnPredictor : Module
{
    private readonly Linear _classScore;
    private readonly Linear _boxPrediction;

    public FastRcnnPredictor(int inFeatures, int classCount, Generator generator)
    {
        _classScore = RegisterModule("cls_score", new Linear(inFeatures, classCount, generator: generator));
        _boxPrediction = RegisterModule("bbox_pred", new Linear(inFeatures, classCount * 4, generator: generator));
    }

    public (Tensor ClassLogits, Tensor BoxRegression) Forward(Tensor features) => (_classScore.Forward(features), _boxPrediction.Forward(features));
}

/// <summary>
/// torchvision's RoIHeads for boxes: matches proposals (plus the ground-truth boxes) to targets at
/// IoU 0.5, samples 512 per image with 25% positives, pools each with RoIAlign
/// (MultiScaleRoIAlign's level mapping when there are several maps), runs the two-layer head and
/// the predictor; trains with cross entropy + smooth L1 (beta 1/9) on positives' own-class deltas
/// (fastrcnn_loss), and infers with softmax, per-class decoding, clipping, score threshold,
/// per-class NMS and a per-image cap.
/// </summary>
public sealed class RoiHeads : Module
{
    private static readonly (float, float, float, float) BoxWeights = (10f, 10f, 5f, 5f);
    private readonly FasterRcnnOptions _options;
    private readonly TwoMlpHead _boxHead;
    private readonly FastRcnnPredictor _predictor;
    private readonly Matcher _matcher;
    private readonly BalancedPositiveNegativeSampler _sampler;

    public RoiHeads(int inChannels, FasterRcnnOptions options, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _boxHead = RegisterModule("box_head", new TwoMlpHead(inChannels * options.RoiPoolSize * options.RoiPoolSize, options.RepresentationSize, generator));
        _predictor = RegisterModule("box_predictor", new FastRcnnPredictor(options.RepresentationSize, options.ClassCount, generator));
        _matcher = new Matcher(options.BoxForegroundIouThreshold, options.BoxBackgroundIouThreshold, allowLowQualityMatches: false);
        _sampler = new BalancedPositiveNegativeSampler(options.BoxBatchSizePerImage, options.BoxPositiveFraction);
    }

    /// <summary>Losses ("loss_classifier", "loss_box_reg") for the proposals of each image.</summary>
    public Dictionary<string, Tensor> Losses(IReadOnlyList<Tensor> features, List<float[]> proposals, (int Height, int Width) imageSize,
        IReadOnlyList<DetectionTarget> targets, Generator samplingGenerator)
    {
        var sampledProposals = new List<float[]>();
        var labels = new List<long>();
        var regressionTargets = new List<float>();
        for (int n = 0; n < proposals.Count; n++)
        {
            float[] groundTruth = targets[n].BoxArray();
            long[] groundTruthLabels = targets[n].LabelArray();
            // add_gt_proposals: the ground truth itself is always a candidate.
            float[] candidates = [.. proposals[n], .. groundTruth];
            int count = candidates.Length / 4;
            var matches = _matcher.Match(BoxArrays.Iou(groundTruth, candidates), groundTruth.Length / 4, count);
            var imageLabels = matches.Select(m => m >= 0 ? (int)groundTruthLabels[m] : m == Matcher.BelowLowThreshold ? 0 : -1).ToArray();
            var (pos, neg) = _sampler.Sample(imageLabels, samplingGenerator);
            int[] chosen = pos.Concat(neg).Order().ToArray();
            float[] chosenBoxes = BoxArrays.Rows(candidates, chosen);
            sampledProposals.Add(chosenBoxes);
            labels.AddRange(chosen.Select(i => (long)imageLabels[i]));
            float[] matchedBoxes = groundTruth.Length == 0 ? new float[chosenBoxes.Length] : BoxArrays.Rows(groundTruth, chosen.Select(i => Math.Max(matches[i], 0)).ToArray());
            if (chosen.Length > 0)
                regressionTargets.AddRange(F.BoxEncode(BoxArrays.ToTensor(matchedBoxes), BoxArrays.ToTensor(chosenBoxes), BoxWeights).ToArray());
        }
        var (classLogits, boxRegression) = _predictor.Forward(_boxHead.Forward(Pool(features, sampledProposals, imageSize)));
        return FastRcnnLoss(classLogits, boxRegression, labels.ToArray(), regressionTargets.ToArray());
    }

    /// <summary>fastrcnn_loss: mean cross entropy, plus smooth L1 of positives' own-class deltas summed and divided by the sample count.</summary>
    internal static Dictionary<string, Tensor> FastRcnnLoss(Tensor classLogits, Tensor boxRegression, long[] labels, float[] regressionTargets)
    {
        int sampleCount = labels.Length, classCount = classLogits.Size(1);
        var device = classLogits.Device;
        var classificationLoss = F.CrossEntropy(classLogits, Tensor.FromArray(labels, sampleCount).To(device));
        var positive = Enumerable.Range(0, sampleCount).Where(i => labels[i] > 0).ToArray();
        Tensor boxLoss;
        if (positive.Length == 0)
            boxLoss = F.Sum(boxRegression) * 0f;
        else
        {
            // Row k·C + label of the [K·C, 4] view holds sample k's deltas for its own class.
            var rows = BoxArrays.Index(positive.Select(i => i * classCount + (int)labels[i]).ToArray());
            var predicted = boxRegression.Reshape(sampleCount * classCount, 4).IndexSelect(0, rows.To(device));
            var target = Tensor.FromArray(BoxArrays.Rows(regressionTargets, positive), positive.Length, 4).To(device);
            boxLoss = F.SmoothL1Loss(predicted, target, Reduction.Sum, beta: 1f / 9f) / sampleCount;
        }
        return new Dictionary<string, Tensor>(StringComparer.Ordinal) { ["loss_classifier"] = classificationLoss, ["loss_box_reg"] = boxLoss };
    }

    /// <summary>Detections per image from the proposals.</summary>
    public List<Detections> Detect(IReadOnlyList<Tensor> features, List<float[]> proposals, (int Height, int Width) imageSize)
    {
        var (classLogits, boxRegression) = _predictor.Forward(_boxHead.Forward(Pool(features, proposals, imageSize)));
        float[] allProposals = proposals.SelectMany(p => p).ToArray();
        int total = allProposals.Length / 4, classCount = _options.ClassCount;
        float[] decoded = total == 0 ? [] : F.BoxDecode(boxRegression.Detach(), BoxArrays.ToTensor(allProposals).To(boxRegression.Device), BoxWeights).ToArray();
        float[] scores = total == 0 ? [] : F.Softmax(classLogits.Detach(), 1).ToArray();
        var result = new List<Detections>(proposals.Count);
        int start = 0;
        foreach (var imageProposals in proposals)
        {
            int count = imageProposals.Length / 4;
            var boxes = new List<float>();
            var keptScores = new List<float>();
            var keptLabels = new List<long>();
            for (int k = start; k < start + count; k++)
                for (int c = 1; c < classCount; c++)
                {
                    float score = scores[k * classCount + c];
                    if (!(score > _options.BoxScoreThreshold)) continue;
                    float[] box = decoded.AsSpan((k * classCount + c) * 4, 4).ToArray();
                    BoxArrays.Clip(box, imageSize.Height, imageSize.Width);
                    if (box[2] - box[0] < 1e-2f || box[3] - box[1] < 1e-2f) continue;
                    boxes.AddRange(box);
                    keptScores.Add(score);
                    keptLabels.Add(c);
                }
            start += count;
            float[] boxArray = boxes.ToArray();
            float[] scoreArray = keptScores.ToArray();
            long[] labelArray = keptLabels.ToArray();
            var keep = BoxArrays.BatchedNms(boxArray, scoreArray, labelArray, _options.BoxNmsThreshold).Take(_options.DetectionsPerImage).ToArray();
            result.Add(new Detections(Tensor.FromArray(BoxArrays.Rows(boxArray, keep), keep.Length, 4),
                Tensor.FromArray(BoxArrays.Pick(scoreArray, keep), keep.Length), Tensor.FromArray(BoxArrays.Pick(labelArray, keep), keep.Length)));
        }
        return result;
    }

    /// <summary>
    /// MultiScaleRoIAlign: each level's scale is 2^round(log2(feature / image size)); with several
    /// levels a box of side s goes to level floor(4 + log2(s / 224) + 1e-6) clamped to the
    /// available ones (LevelMapper), and the pooled rows are put back in box order.
    /// </summary>
    internal Tensor Pool(IReadOnlyList<Tensor> features, List<float[]> proposals, (int Height, int Width) imageSize)
    {
        var scales = features.Select(f => MathF.Pow(2f, MathF.Round(MathF.Log2((float)f.Size(2) / imageSize.Height)))).ToArray();
        var output = (_options.RoiPoolSize, _options.RoiPoolSize);
        var rows = new List<(int Image, int Box, float[] Row)>();
        for (int n = 0; n < proposals.Count; n++)
            for (int b = 0; b < proposals[n].Length / 4; b++)
                rows.Add((n, b, [n, proposals[n][4 * b], proposals[n][4 * b + 1], proposals[n][4 * b + 2], proposals[n][4 * b + 3]]));
        if (features.Count == 1 || rows.Count == 0)
            return F.RoiAlign(features[0], RowTensor(rows.Select(r => r.Row).ToList()).To(features[0].Device), output, scales[0], _options.RoiSamplingRatio);
        int minLevel = (int)-MathF.Log2(scales[0]), maxLevel = (int)-MathF.Log2(scales[^1]);
        var levelOf = MapLevels(rows.Select(r => r.Row).ToList(), minLevel, maxLevel);
        var pooled = new List<Tensor>();
        var order = new List<int>();
        for (int level = 0; level < features.Count; level++)
        {
            var members = Enumerable.Range(0, rows.Count).Where(i => levelOf[i] == level).ToList();
            if (members.Count == 0) continue;
            pooled.Add(F.RoiAlign(features[level], RowTensor(members.Select(i => rows[i].Row).ToList()).To(features[level].Device), output, scales[level], _options.RoiSamplingRatio));
            order.AddRange(members);
        }
        var stacked = pooled.Count == 1 ? pooled[0] : F.Cat(pooled, 0);
        var inverse = new int[order.Count];
        for (int i = 0; i < order.Count; i++) inverse[order[i]] = i;
        return stacked.IndexSelect(0, BoxArrays.Index(inverse).To(stacked.Device));
    }

    /// <summary>LevelMapper (k0 = 4, s0 = 224, eps 1e-6): the pyramid index (0 = finest map) of each (batch, x1, y1, x2, y2) row.</summary>
    internal static int[] MapLevels(IReadOnlyList<float[]> rows, int minLevel, int maxLevel) => rows.Select(r =>
    {
        float side = MathF.Sqrt((r[3] - r[1]) * (r[4] - r[2]));
        int level = (int)MathF.Floor(4f + MathF.Log2(side / 224f) + 1e-6f);
        return Math.Clamp(level, minLevel, maxLevel) - minLevel;
    }).ToArray();

    private static Tensor RowTensor(List<float[]> rows) => Tensor.FromArray(rows.SelectMany(r => r).ToArray(), rows.Count, 5);
}
