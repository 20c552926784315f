using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Metrics;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Heads;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Recipes;

/// <summary>
/// Semantic segmentation over a multi-scale backbone: <see cref="FpnSegmentationHead"/>, per-pixel
/// cross-entropy ignoring label 255 (augmentation padding); batch metric pixel accuracy; test
/// metrics mIoU and pixel accuracy from one confusion matrix over the whole evaluated split.
/// </summary>
public sealed class SegmentationTaskHead : IEvaluatedHead
{
    public const long IgnoreIndex = 255;
    private readonly FpnSegmentationHead _head;

    public SegmentationTaskHead(IReadOnlyList<int> featureChannels, int classCount, int channels, Generator generator)
    {
        ClassCount = classCount;
        _head = new FpnSegmentationHead(featureChannels, classCount, channels, generator);
    }

    public int ClassCount { get; }

    public Module Module => _head;

    /// <summary>Per-pixel class logits [B, classes, H, W] at the input's size.</summary>
    internal Tensor Logits(Features features, TaskBatch batch) => _head.Forward(features.Maps, (batch.Inputs.Size(2), batch.Inputs.Size(3)));

    public TaskOutput Forward(Features features, TaskBatch batch)
    {
        var target = Targets(batch);
        var logits = Logits(features, batch);
        var loss = F.CrossEntropy(logits, target, ignoreIndex: IgnoreIndex);
        var matrix = new ConfusionMatrix(ClassCount, IgnoreIndex);
        matrix.Update(logits.Argmax(1), target);
        return new TaskOutput(loss, new Dictionary<string, double> { ["pixel_acc"] = matrix.PixelAccuracy() });
    }

    public ITaskEvaluation CreateEvaluation() => new Evaluation(this);

    private static Tensor Targets(TaskBatch batch) => batch.Targets as Tensor
        ?? throw new ArgumentException($"segmentation head: targets expected an int64 [B, H, W] class map, found {batch.Targets?.GetType().Name ?? "null"}", nameof(batch));

    private sealed class Evaluation(SegmentationTaskHead head) : ITaskEvaluation
    {
        private readonly ConfusionMatrix _matrix = new(head.ClassCount, IgnoreIndex);

        public void Add(Features features, TaskBatch batch) => _matrix.Update(head.Logits(features, batch).Argmax(1), Targets(batch));

        public IReadOnlyDictionary<string, double> Compute() => new Dictionary<string, double>
        {
            ["mIoU"] = _matrix.MeanIntersectionOverUnion(),
            ["pixel_acc"] = _matrix.PixelAccuracy(),
        };
    }
}

/// <summary>
/// Depth regression over a multi-scale backbone: <see cref="DepthHead"/> (positive depths), L1
/// loss; test metrics RMSE and AbsRel over every pixel of the evaluated split.
/// </summary>
public sealed class DepthTaskHead : IEvaluatedHead
{
    private readonly DepthHead _head;

    public DepthTaskHead(IReadOnlyList<int> featureChannels, int channels, Generator generator)
    {
        _head = new DepthHead(featureChannels, channels, generator: generator);
    }

    public Module Module => _head;

    private Tensor Predict(Features features, TaskBatch batch) => _head.Forward(features.Maps, (batch.Inputs.Size(2), batch.Inputs.Size(3)));

    public TaskOutput Forward(Features features, TaskBatch batch)
    {
        var target = Targets(batch);
        var predicted = Predict(features, batch);
        var loss = F.L1Loss(predicted, target);
        var metrics = new DepthMetrics();
        metrics.Update(predicted.Detach(), target);
        return new TaskOutput(loss, new Dictionary<string, double> { ["rmse"] = metrics.Rmse });
    }

    public ITaskEvaluation CreateEvaluation() => new Evaluation(this);

    private static Tensor Targets(TaskBatch batch) => batch.Targets as Tensor
        ?? throw new ArgumentException($"depth head: targets expected a float [B, 1, H, W] depth map, found {batch.Targets?.GetType().Name ?? "null"}", nameof(batch));

    private sealed class Evaluation(DepthTaskHead head) : ITaskEvaluation
    {
        private readonly DepthMetrics _metrics = new();

        public void Add(Features features, TaskBatch batch) => _metrics.Update(head.Predict(features, batch), Targets(batch));

        public IReadOnlyDictionary<string, double> Compute() => new Dictionary<string, double> { ["rmse"] = _metrics.Rmse, ["abs_rel"] = _metrics.AbsRel };
    }
}

/// <summary>
/// Noisy multi-label tagging: <see cref="MultiLabelHead"/> (pooled coarsest map → logits), binary
/// cross-entropy; test metric the mean over labels of average precision over the evaluated split.
/// </summary>
public sealed class MultiLabelTaskHead : IEvaluatedHead
{
    private readonly MultiLabelHead _head;

    public MultiLabelTaskHead(int featureChannels, int labelCount, Generator generator)
    {
        _head = new MultiLabelHead(featureChannels, labelCount, generator: generator);
    }

    public Module Module => _head;

    private Tensor Logits(Features features) => _head.Forward(features.Final);

    public TaskOutput Forward(Features features, TaskBatch batch) =>
        new(MultiLabelHead.Loss(Logits(features), Targets(batch)), new Dictionary<string, double>());

    public ITaskEvaluation CreateEvaluation() => new Evaluation(this);

    private static Tensor Targets(TaskBatch batch) => batch.Targets as Tensor
        ?? throw new ArgumentException($"multi-label head: targets expected a float [B, labels] 0/1 tensor, found {batch.Targets?.GetType().Name ?? "null"}", nameof(batch));

    private sealed class Evaluation(MultiLabelTaskHead head) : ITaskEvaluation
    {
        private readonly List<float> _scores = [], _targets = [];
        private int _labels;

        public void Add(Features features, TaskBatch batch)
        {
            var probabilities = MultiLabelHead.Probabilities(head.Logits(features));
            _labels = probabilities.Size(1);
            _scores.AddRange(probabilities.Contiguous().ToArray());
            _targets.AddRange(Targets(batch).Contiguous().ToArray());
        }

        public IReadOnlyDictionary<string, double> Compute()
        {
            int rows = _labels == 0 ? 0 : _scores.Count / _labels;
            double map = rows == 0 ? double.NaN
                : MultiLabelAveragePrecision.Mean(Tensor.FromArray(_scores.ToArray(), rows, _labels), Tensor.FromArray(_targets.ToArray(), rows, _labels));
            return new Dictionary<string, double> { ["mAP"] = map };
        }
    }
}
