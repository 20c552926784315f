using System.Globalization;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Metrics;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Nn.Heads;
using Tessera.Models.Optim;
using Tessera.Models.Probe;
using Tessera.Models.Recipes;

namespace Tessera.Models.Systems.Eva;

/// <summary>The shape of a mean-pooled ViT to fine-tune (the student's or the teacher's image tower).</summary>
public sealed record VitShape(int ImageSize, int PatchSize, int Width, int Depth, int Heads)
{
    public VisionTransformer Create(int classes, float dropPath, Generator generator) =>
        new(ImageSize, PatchSize, 3, Width, Depth, Heads, numClasses: classes, pooling: VitPooling.Mean, dropPathRate: dropPath, generator: generator);
}

/// <summary>
/// Semantic segmentation over a plain ViT with a simple feature pyramid (ViTDet, Li et al. 2022):
/// the single stride-p patch map becomes three levels — a stride-2 transposed conv (stride p/2),
/// the map itself (p) and a 2×2 max-pool (2p) — read by the FPN segmentation head
/// (<see cref="FpnSegmentationHead"/>). Names: "backbone", "up", "head".
/// </summary>
public sealed class VitSegmenter : Module
{
    public VitSegmenter(VitShape shape, int classes, int headWidth, float dropPath, Generator generator)
    {
        Backbone = RegisterModule("backbone", shape.Create(0, dropPath, generator));
        Up = RegisterModule("up", new ConvTranspose2d(shape.Width, shape.Width, 2, stride: 2, generator: generator));
        Head = RegisterModule("head", new FpnSegmentationHead([shape.Width, shape.Width, shape.Width], classes, headWidth, generator));
    }

    public VisionTransformer Backbone { get; }
    public ConvTranspose2d Up { get; }
    public FpnSegmentationHead Head { get; }

    /// <summary>Logits [B, classes, H, W].</summary>
    public Tensor Forward(Tensor images)
    {
        var map = Backbone.ForwardFeatures(images)[0];
        return Head.Forward([Up.Forward(map), map, Functional.MaxPool2d(map, 2)], (images.Size(2), images.Size(3)));
    }
}

/// <summary>
/// Fine-tuning of a pre-trained (or fresh) ViT on a downstream suite, BEiT/EVA-style: layer-wise
/// learning-rate decay (<see cref="LayerDecay"/>: embeddings lr·decay^(L+1), block i lr·decay^(L−i),
/// head lr), drop path rising linearly to the settings' rate, AdamW (0.9, 0.999) with wd 0.05,
/// warm-up + cosine. No augmentation and no label smoothing at this scale (our choice). Every arm
/// gets the same head initialisation and the same data order for a seed (paired comparison).
/// </summary>
public static class EvaFineTune
{
    /// <summary>Test top-1 (%) after fine-tuning on <paramref name="suite"/>; <paramref name="backbone"/> null = from scratch.</summary>
    public static double Classification(VitShape shape, IReadOnlyDictionary<string, Tensor>? backbone, string suite, EvaSettings settings, Action<string>? log, string label)
    {
        var source = WorldSources.Get(suite);
        if (source.Task != WorldTask.Classification)
            throw new ArgumentException($"eva: 'eva.suites' expected classification suites (down-shapes, down-textures, down-colours), found '{suite}', a {source.Task} suite", nameof(suite));
        var vit = shape.Create(source.ClassNames().Count, settings.FineTuneDropPath, EvaStages.Stream(settings.Seed, 10));
        Load(vit, backbone, "head.");
        var groups = LayerDecay.Groups(vit.NamedParameters(), name => LayerDecay.VitLayer(name, shape.Depth), shape.Depth, settings.FineTuneLearningRate, settings.LayerDecay)
            .Select(g => new ParameterGroup(g.Parameters, g.LearningRateOverride)).ToList();
        var (optimizer, scheduler) = EvaStages.CreateOptimizer(groups, settings.FineTuneLearningRate, 0.999f, settings.WeightDecay, settings.FineTuneSteps, settings.Warmup);
        var data = EvaStages.Stream(settings.Seed, 11);
        var curve = new List<EvaPoint>();
        vit.Train();
        for (int step = 0; step < settings.FineTuneSteps; step++)
        {
            using var scope = new TensorScope();
            var batch = EvaStages.Batch(suite, data, settings.FineTuneBatch, shape.ImageSize);
            var loss = Functional.CrossEntropy(vit.Forward(batch.Images), batch.Classes);
            curve.Add(new EvaPoint(step, EvaStages.Finite(loss.Item(), label, step)));
            loss.Backward(null, freeActivations: true);
            optimizer.Step();
            scheduler.Step();
            optimizer.ZeroGrad();
            EvaStages.Progress(log, label, step, settings.FineTuneSteps, curve);
        }
        vit.Eval();
        using var noGrad = GradMode.NoGrad();
        int correct = 0, seen = 0;
        foreach (var batch in TestBatches(source, settings.TestImages, shape.ImageSize))
        {
            using var scope = new TensorScope();
            var predicted = vit.Forward(batch.Images).Argmax(1).ToArray<long>();
            var labels = batch.Classes.ToArray<long>();
            for (int i = 0; i < labels.Length; i++) correct += predicted[i] == labels[i] ? 1 : 0;
            seen += labels.Length;
        }
        return 100.0 * correct / seen;
    }

    /// <summary>Test mIoU (%) after fine-tuning a simple-feature-pyramid segmenter on <paramref name="suite"/>.</summary>
    public static double Segmentation(VitShape shape, IReadOnlyDictionary<string, Tensor>? backbone, string suite, EvaSettings settings, Action<string>? log, string label)
    {
        var source = WorldSources.Get(suite);
        if (source.Task != WorldTask.Segmentation)
            throw new ArgumentException($"eva: 'eva.segmentation_suite' expected a segmentation suite (down-seg), found '{suite}', a {source.Task} suite", nameof(suite));
        int classes = source.SegmentationClassCount;
        var model = new VitSegmenter(shape, classes, 32, settings.FineTuneDropPath, EvaStages.Stream(settings.Seed, 12));
        Load(model.Backbone, backbone, null);
        var groups = LayerDecay.Groups(model.NamedParameters(),
                name => name.StartsWith("backbone.", StringComparison.Ordinal) ? LayerDecay.VitLayer(name["backbone.".Length..], shape.Depth) : shape.Depth + 1,
                shape.Depth, settings.FineTuneLearningRate, settings.LayerDecay)
            .Select(g => new ParameterGroup(g.Parameters, g.LearningRateOverride)).ToList();
        var (optimizer, scheduler) = EvaStages.CreateOptimizer(groups, settings.FineTuneLearningRate, 0.999f, settings.WeightDecay, settings.SegmentationSteps, settings.Warmup);
        var data = EvaStages.Stream(settings.Seed, 13);
        var curve = new List<EvaPoint>();
        model.Train();
        for (int step = 0; step < settings.SegmentationSteps; step++)
        {
            using var scope = new TensorScope();
            var batch = EvaStages.Batch(suite, data, settings.FineTuneBatch, shape.ImageSize);
            var loss = Functional.CrossEntropy(model.Forward(batch.Images), batch.Semantic, ignoreIndex: WorldSource.IgnoreIndex);
            curve.Add(new EvaPoint(step, EvaStages.Finite(loss.Item(), label, step)));
            loss.Backward(null, freeActivations: true);
            optimizer.Step();
            scheduler.Step();
            optimizer.ZeroGrad();
            EvaStages.Progress(log, label, step, settings.SegmentationSteps, curve);
        }
        model.Eval();
        using var noGrad = GradMode.NoGrad();
        var confusion = new ConfusionMatrix(classes, WorldSource.IgnoreIndex);
        foreach (var batch in TestBatches(source, settings.TestImages, shape.ImageSize))
        {
            using var scope = new TensorScope();
            confusion.Update(model.Forward(batch.Images).Argmax(1), batch.Semantic);
        }
        return 100.0 * confusion.MeanIntersectionOverUnion();
    }

    /// <summary>
    /// Linear-probe test top-1 (%) of a frozen backbone's mean-pooled final tokens on a
    /// classification suite: L-BFGS logistic regression with the L2 sweep 1e-5..1e-1 (<see cref="LinearProbe"/>)
    /// on the first ProbeImages of the suite's train split, scored on the first test images. Reads the representation
    /// without the fine-tuning that can wash differences out at this scale.
    /// </summary>
    public static double Probe(VisionTransformer backbone, string suite, EvaSettings settings)
    {
        var source = WorldSources.Get(suite);
        var train = Features(backbone, source, "train", Math.Min(settings.ProbeImages, WorldGenerator.SplitLength(source, "train", WorldTaskSource.WorldSeed) ?? settings.ProbeImages));
        var test = Features(backbone, source, "test", settings.TestImages);
        var report = LinearProbe.Run(train, null, test, new LinearProbeOptions { MaxIterations = 300, GridSize = 5, Seed = settings.Seed }, source.ClassNames().Count);
        return 100.0 * report.TestAccuracy!.Value;
    }

    private static ProbeSplit Features(VisionTransformer backbone, WorldSource source, string split, int count)
    {
        bool training = backbone.Training;
        backbone.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            var features = new List<float>();
            var labels = new List<long>();
            int width = backbone.EmbedDim;
            foreach (var batch in split == "test" ? TestBatches(source, count, backbone.GridSize * backbone.PatchSize) : SplitBatches(source, split, count, backbone.GridSize * backbone.PatchSize))
            {
                using var scope = new TensorScope();
                features.AddRange(backbone.ForwardPooled(batch.Images).Contiguous().ToArray());
                labels.AddRange(batch.Classes.ToArray<long>());
            }
            return new ProbeSplit(Tensor.FromArray(features.ToArray(), labels.Count, width), Tensor.FromArray(labels.ToArray(), labels.Count));
        }
        finally
        {
            backbone.Train(training);
        }
    }

    private static IEnumerable<WorldBatch> SplitBatches(WorldSource source, string split, int count, int size)
    {
        for (int start = 0; start < count; start += 100)
        {
            var indices = Enumerable.Range(start, Math.Min(100, count - start)).Select(i => (long)i).ToArray();
            using var batch = WorldBatch.Create(source, split, indices, WorldTaskSource.WorldSeed, size);
            yield return batch;
        }
    }

    /// <summary>The first <paramref name="count"/> test scenes in batches of 100 (each disposed when the next is drawn).</summary>
    private static IEnumerable<WorldBatch> TestBatches(WorldSource source, int count, int size)
    {
        int available = WorldGenerator.SplitLength(source, "test", WorldTaskSource.WorldSeed) ?? count;
        count = Math.Min(count, available);
        for (int start = 0; start < count; start += 100)
        {
            var indices = Enumerable.Range(start, Math.Min(100, count - start)).Select(i => (long)i).ToArray();
            using var batch = WorldBatch.Create(source, "test", indices, WorldTaskSource.WorldSeed, size);
            yield return batch;
        }
    }

    /// <summary>Loads a backbone state; only keys under <paramref name="headPrefix"/> may be missing, none may be unexpected.</summary>
    private static void Load(Module target, IReadOnlyDictionary<string, Tensor>? state, string? headPrefix)
    {
        if (state is null) return;
        var (missing, unexpected) = target.LoadStateDict(state, strict: false);
        var wrong = missing.Where(k => headPrefix is null || !k.StartsWith(headPrefix, StringComparison.Ordinal)).ToList();
        if (wrong.Count > 0 || unexpected.Count > 0)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"eva fine-tune: the pre-trained backbone does not fit (missing [{string.Join(", ", wrong)}], unexpected [{string.Join(", ", unexpected)}])"));
    }
}
