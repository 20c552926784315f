using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Metrics;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Heads;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>A backbone INTERN's heads plug into: the feature shape each task type reads.</summary>
public interface IInternBackbone : IMultiScaleBackbone
{
    /// <summary>Channels and strides of the maps a task of <paramref name="type"/> receives.</summary>
    FeatureShape ShapeOf(TaskType type);

    /// <summary>The maps a task of <paramref name="type"/> reads (downstream suites are routed by type, not name).</summary>
    Features Forward(TaskType type, Tensor input);
}

/// <summary>
/// A MetaNet as a multi-task backbone: every task gets its C2..C5 (or, for the detection expert,
/// the P2..P5 of one FPN shared by every detection source, "fpn.*"). The backbone's batch norms
/// follow the SIMT device's SyncBN (MultiTaskTrainer enters it around the backbone only).
/// </summary>
public sealed class ExpertTrunk : Module, IInternBackbone
{
    private readonly Fpn? _fpn;

    public ExpertTrunk(MetaNet net, int? fpnWidth, Generator generator)
    {
        Net = RegisterModule("net", net ?? throw new ArgumentNullException(nameof(net)));
        if (fpnWidth is int width) _fpn = RegisterModule("fpn", new Fpn(net.FeatureChannels, width, generator));
        FeatureChannels = _fpn is null ? net.FeatureChannels : net.FeatureChannels.Select(_ => _fpn.OutChannels).ToArray();
    }

    public MetaNet Net { get; }

    /// <summary>The shared FPN of the detection expert (null for the others).</summary>
    public Fpn? SharedFpn => _fpn;

    public Module Module => this;

    public IReadOnlyList<int> FeatureChannels { get; }

    public IReadOnlyList<int> FeatureStrides => Net.FeatureStrides;

    public FeatureShape ShapeOf(TaskType type) => new(FeatureChannels, FeatureStrides);

    public Features Forward(string task, Tensor input) => Forward(TaskType.Classification, input);

    public Features Forward(TaskType type, Tensor input)
    {
        var maps = Net.ForwardFeatures(input);
        return new Features(_fpn is null ? maps : _fpn.Forward(maps));
    }
}

/// <summary>
/// DeepLab-lite segmentation head of the segmentation expert: ASPP-lite (<see cref="Aspp"/>, rates
/// 1, 2, 3 at our map sizes) on the last map, a 3x3 conv-BN-ReLU ("refine"), a 1x1 classifier and
/// bilinear upsampling (DeepLabHead's layout); per-pixel cross-entropy ignoring 255; test metrics
/// mIoU and pixel accuracy from one confusion matrix over the split. The ASPP has no dropout (our
/// choice): SIMT devices run heads concurrently, and a dropout stream shared by them would make a
/// run depend on thread timing.
/// </summary>
public sealed class DeepLabTaskHead : IEvaluatedHead
{
    private readonly Parts _head;

    public DeepLabTaskHead(int channels, int classCount, int width, Generator generator)
    {
        ClassCount = classCount;
        _head = new Parts(channels, classCount, width, generator);
    }

    public int ClassCount { get; }

    public Module Module => _head;

    private Tensor Logits(Features features, TaskBatch batch)
    {
        var logits = _head.Classifier.Forward(_head.Refine.Forward(_head.Aspp.Forward(features.Maps[^1])));
        return F.Interpolate(logits, (batch.Inputs.Size(2), batch.Inputs.Size(3)), mode: InterpolationMode.Bilinear, alignCorners: false);
    }

    private sealed class Parts : Module
    {
        public Parts(int channels, int classCount, int width, Generator generator)
        {
            Aspp = RegisterModule("aspp", new Aspp(channels, [1, 2, 3], width, 0f, generator));
            Refine = RegisterModule("refine", ConvInit.ConvBnRelu(width, width, 3, 1, generator: generator));
            Classifier = RegisterModule("classifier", new Conv2d(width, classCount, 1, generator: generator));
        }

        public Aspp Aspp { get; }
        public Sequential Refine { get; }
        public Conv2d Classifier { get; }
    }

    public TaskOutput Forward(Features features, TaskBatch batch)
    {
        var target = Target(batch);
        var logits = Logits(features, batch);
        var matrix = new ConfusionMatrix(ClassCount, SegmentationTaskHead.IgnoreIndex);
        matrix.Update(logits.Argmax(1), target);
        return new TaskOutput(F.CrossEntropy(logits, target, ignoreIndex: SegmentationTaskHead.IgnoreIndex), new Dictionary<string, double> { ["pixel_acc"] = matrix.PixelAccuracy() });
    }

    public ITaskEvaluation CreateEvaluation() => new Evaluation(this);

    private static Tensor Target(TaskBatch batch) => batch.Targets as Tensor
        ?? throw new ArgumentException($"deeplab head: targets expected an int64 [B, H, W] class map, found {batch.Targets?.GetType().Name ?? "null"}", nameof(batch));

    private sealed class Evaluation(DeepLabTaskHead head) : ITaskEvaluation
    {
        private readonly ConfusionMatrix _matrix = new(head.ClassCount, SegmentationTaskHead.IgnoreIndex);

        public void Add(Features features, TaskBatch batch) => _matrix.Update(head.Logits(features, batch).Argmax(1), Target(batch));

        public IReadOnlyDictionary<string, double> Compute() => new Dictionary<string, double>
        {
            ["mIoU"] = _matrix.MeanIntersectionOverUnion(),
            ["pixel_acc"] = _matrix.PixelAccuracy(),
        };
    }
}

/// <summary>Heads and tasks of INTERN's experts and generalist: one head per source, the head family set by the task type.</summary>
public static class InternTasks
{
    /// <summary>An independent initialisation stream per purpose.</summary>
    public static Generator Stream(ulong seed, int purpose) => new(MultiTaskTrainer.Mix(seed, 40 + (ulong)purpose, 0));

    /// <summary>
    /// One task per source: classification → linear head on the pooled last map; detection →
    /// Faster R-CNN-lite (the catalog head) on the maps it is given; segmentation → DeepLab-lite on
    /// the last map. Sampling weight = the source's nominal size (proportional sampling).
    /// </summary>
    public static List<TrainingTask> Build(IReadOnlyList<InternSource> sources, IInternBackbone backbone, InternSettings settings, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0)
            throw new ArgumentException("intern: 'tasks' expected at least one source, found an empty source list", nameof(sources));
        ArgumentNullException.ThrowIfNull(backbone);
        var model = new ModelSpec { HeadWidth = settings.HeadWidth };
        var tasks = new List<TrainingTask>();
        foreach (var source in sources)
        {
            if (!RecipeCatalog.Sources.TryGetValue(source.Source, out var entry))
                throw new ArgumentException($"intern: source '{source.Source}' is unknown; known: {string.Join(", ", RecipeCatalog.Sources.Keys.Order(StringComparer.Ordinal))}", nameof(sources));
            string expected = source.Type switch { TaskType.Classification => "classification", TaskType.Detection => "detection", _ => "segmentation" };
            if (entry.Task != expected)
                throw new ArgumentException($"intern: source '{source.Source}' is a {entry.Task} source, expected a {expected} source for its task type", nameof(sources));
            var spec = new TaskSpec { Name = source.Source, Source = source.Source, Head = expected };
            var shape = backbone.ShapeOf(source.Type);
            ITaskHead head = source.Type switch
            {
                TaskType.Classification => RecipeCatalog.Heads["classification"](spec, entry, shape.Channels[^1], generator),
                TaskType.Detection => RecipeCatalog.MultiScaleHeads["detection"](spec, entry, shape, model, generator),
                _ => new DeepLabTaskHead(shape.Channels[^1], entry.ClassCount, settings.HeadWidth, generator),
            };
            int batch = source.Type == TaskType.Detection ? settings.DetectionBatch : settings.Batch;
            tasks.Add(new TrainingTask(source.Source, entry.Create(source.Source, 0), head, source.Size, batch, settings.Size));
        }
        return tasks;
    }
}
