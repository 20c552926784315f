using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Optim;
using Tessera.Models.Training;

namespace Tessera.Models.Recipes;

/// <summary>
/// A source the catalog can build: the source for a seed, its image channels, the size of its
/// label space (classes, tags, object or segmentation classes; 0 for depth) and its task kind
/// ("classification", "multi-label", "detection", "segmentation", "depth"), which heads check.
/// </summary>
public sealed record SourceEntry(Func<string, ulong, ITaskSource> Create, int Channels, int ClassCount, string Task = "classification");

/// <summary>What a multi-scale backbone gives a head: each map's channels and stride, finest first.</summary>
public sealed record FeatureShape(IReadOnlyList<int> Channels, IReadOnlyList<int> Strides);

/// <summary>Everything a recipe builds: the model, optimiser, schedule and trainer settings.</summary>
public sealed record RecipeBuild(MultiTaskModel Model, Optimizer Optimizer, LearningRateScheduler Scheduler, TrainerOptions Options)
{
    public MultiTaskTrainer CreateTrainer() => new(Model, Optimizer, Scheduler, Options);
}

/// <summary>
/// Names a recipe may use for sources, heads and backbones, and the builder that turns a
/// <see cref="Recipe"/> into a model, optimiser and schedule. New sources (the procedural
/// world, MNIST), heads and backbones register here.
/// </summary>
public static class RecipeCatalog
{
    /// <summary>Sources by name.</summary>
    public static Dictionary<string, SourceEntry> Sources { get; } = new Dictionary<string, SourceEntry>(StringComparer.Ordinal)
    {
        ["shapes"] = new((name, seed) => new ShapesTaskSource(name, seed, bars: false), 1, Demo.ShapesDataset.ClassCount),
        ["shapes-bars"] = new((name, seed) => new ShapesTaskSource(name, seed, bars: true), 1, 2),
        ["mnist"] = new((name, _) => new MnistTaskSource(name, "mnist"), 1, 10),
        ["fashion-mnist"] = new((name, _) => new MnistTaskSource(name, "fashion-mnist"), 1, 10),
    }.WithWorldSources();

    /// <summary>
    /// Sources that read the user's files, by name: (the task's "data" folder) → entry. Their class
    /// count comes from the folder, so they are resolved per recipe.
    /// </summary>
    public static Dictionary<string, Func<string, SourceEntry>> DataSources { get; } = new(StringComparer.Ordinal)
    {
        [Data.Folder.ImageFolderSource.SourceName] = folder =>
        {
            var index = Data.Folder.ImageFolderIndex.Scan(folder);
            return new SourceEntry((name, _) => new Data.Folder.ImageFolderSource(name, index), 3, index.Classes.Count);
        },
    };

    /// <summary>Heads by name: (task spec, source entry, backbone feature channels, init generator) → head.</summary>
    public static Dictionary<string, Func<TaskSpec, SourceEntry, int, Generator, ITaskHead>> Heads { get; } = new(StringComparer.Ordinal)
    {
        ["classification"] = (task, source, channels, generator) => source.ClassCount >= 2 && source.Task == "classification"
            ? new ClassificationHead(channels, source.ClassCount, generator)
            : throw new InvalidDataException($"recipe: task '{task.Name}' uses head 'classification' but source '{task.Source}' is a {source.Task} source{(source.ClassCount < 2 ? " without classes" : "")}"),
        ["multi-label"] = (task, source, channels, generator) => new MultiLabelTaskHead(channels, Expect(task, source, "multi-label").ClassCount, generator),
    };

    /// <summary>
    /// Heads that read every map of a multi-scale backbone (<see cref="IMultiScaleBackbone"/>):
    /// (task spec, source entry, feature shape, model spec, init generator) → head.
    /// </summary>
    public static Dictionary<string, Func<TaskSpec, SourceEntry, FeatureShape, ModelSpec, Generator, ITaskHead>> MultiScaleHeads { get; } = new(StringComparer.Ordinal)
    {
        ["segmentation"] = (task, source, shape, model, generator) =>
            new SegmentationTaskHead(shape.Channels, Expect(task, source, "segmentation").ClassCount, model.HeadWidth, generator),
        ["depth"] = (task, source, shape, model, generator) =>
        {
            Expect(task, source, "depth");
            return new DepthTaskHead(shape.Channels, model.HeadWidth, generator);
        },
        ["detection"] = (task, source, shape, model, generator) =>
            new DetectionTaskHead(shape.Channels, shape.Strides, Expect(task, source, "detection").ClassCount, model.HeadWidth, generator),
    };

    /// <summary>Backbones by name: (model spec, input channels, init generator) → (backbone, feature channels).</summary>
    public static Dictionary<string, Func<ModelSpec, int, Generator, (IMultiTaskBackbone Backbone, int Channels)>> Backbones { get; } = new(StringComparer.Ordinal)
    {
        ["small-cnn"] = (spec, inChannels, generator) =>
        {
            var backbone = new SmallConvBackbone(inChannels, spec.Width, spec.BatchNorm, generator, spec.Depth);
            return (backbone, backbone.OutChannels);
        },
        ["resnet-narrow"] = (spec, inChannels, generator) =>
        {
            var backbone = new NarrowResNetBackbone(inChannels, spec.Width, spec.Depth, generator);
            return (backbone, backbone.FeatureChannels[^1]);
        },
        ["gppf-resnet"] = (spec, inChannels, generator) =>
        {
            var backbone = Systems.Gppf.GppfRecipe.CreateBackbone(spec, inChannels, generator);
            return (backbone, backbone.FeatureChannels[^1]);
        },
        // HVP-MTL recipes train through HvpMtlTraining (tessera train dispatches them); built here, they are the pre-trained ViT with the recipe's heads.
        ["hvp-mtl"] = Systems.HvpMtl.HvpCatalogBackbone.Create,
        // X-Learner recipes train through XLearnerTraining (tessera train dispatches them); built here, they are the squeezed student's architecture.
        ["xlearner"] = (spec, inChannels, generator) =>
        {
            var backbone = new NarrowResNetBackbone(inChannels, spec.Width, spec.Depth, generator);
            return (backbone, backbone.FeatureChannels[^1]);
        },
    };

    /// <summary>Builds the recipe's model (initialised from its seed), optimiser and schedule.</summary>
    public static RecipeBuild Build(Recipe recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var sources = recipe.Tasks.Select(ResolveSource).ToList();
        int channels = sources[0].Channels;
        if (sources.Any(s => s.Channels != channels))
            throw new InvalidDataException($"recipe: all sources must have the same image channels to share a backbone, found {string.Join(", ", sources.Select(s => s.Channels).Distinct())}");
        var init = new Generator(MultiTaskTrainer.Mix(recipe.Seed, 0, 0));
        var (backbone, featureChannels) = Lookup(Backbones, recipe.Model.Type, "model type")(recipe.Model, channels, init);
        var tasks = new List<TrainingTask>();
        for (int t = 0; t < recipe.Tasks.Count; t++)
        {
            var spec = recipe.Tasks[t];
            var source = sources[t].Create(spec.Name, recipe.Seed + (ulong)t);
            var head = MultiScaleHeads.TryGetValue(spec.Head, out var multiScale)
                ? multiScale(spec, sources[t], backbone is IMultiScaleBackbone levels ? new FeatureShape(levels.FeatureChannels, levels.FeatureStrides)
                    : throw new InvalidDataException($"recipe: task '{spec.Name}' head '{spec.Head}' needs a multi-scale backbone (model type 'resnet-narrow'), not '{recipe.Model.Type}'"), recipe.Model, init)
                : Lookup(Heads, spec.Head, $"task '{spec.Name}' head")(spec, sources[t], featureChannels, init);
            tasks.Add(new TrainingTask(spec.Name, source, head, spec.Weight, spec.Batch ?? recipe.Batch, spec.Size ?? recipe.Size, spec.LossWeight));
        }
        // Per-task parameters (GPPF's routing logits) exist before the optimiser collects the parameters.
        (backbone as IScheduledBackbone)?.Prepare(tasks.Select(t => t.Name).ToList(), recipe.Steps);
        var model = new MultiTaskModel(backbone, tasks);
        var optimizer = CreateOptimizer(recipe.Optimizer, model);
        var scheduler = new LearningRateScheduler(optimizer, CreateSchedule(recipe.Schedule, recipe.Steps));
        var options = new TrainerOptions(recipe.Devices, recipe.Seed, recipe.Nonfinite == "skip" ? NonFinitePolicy.Skip : NonFinitePolicy.Stop, recipe.ClipNorm, recipe.EvalBatches);
        return new RecipeBuild(model, optimizer, scheduler, options);
    }

    private static SourceEntry ResolveSource(TaskSpec task)
    {
        if (DataSources.TryGetValue(task.Source, out var fromFolder))
            return string.IsNullOrWhiteSpace(task.Data)
                ? throw new InvalidDataException($"recipe: task '{task.Name}' source '{task.Source}' reads a folder of images, but 'data' is not set; pass --data DIR (or tasks.N.data=DIR)")
                : fromFolder(task.Data);
        if (task.Data is not null)
            throw new InvalidDataException($"recipe: task '{task.Name}' has 'data' = \"{task.Data}\" but its source '{task.Source}' reads no files; remove 'data' or use source '{Data.Folder.ImageFolderSource.SourceName}'");
        return Sources.TryGetValue(task.Source, out var entry)
            ? entry
            : throw new InvalidDataException($"recipe: tasks '{task.Name}' source '{task.Source}' is unknown; known: {string.Join(", ", Sources.Keys.Concat(DataSources.Keys).Order(StringComparer.Ordinal))}");
    }

    /// <summary>Registers every procedural-world source (captioning aside) under its own name.</summary>
    private static Dictionary<string, SourceEntry> WithWorldSources(this Dictionary<string, SourceEntry> table)
    {
        foreach (var world in WorldSources.All.Where(w => w.Task != WorldTask.Captioning))
        {
            string name = world.Name;
            var probe = new WorldTaskSource(name, name);
            string kind = world.Task switch
            {
                WorldTask.MultiLabel => "multi-label",
                _ => world.Task.ToString().ToLowerInvariant(),
            };
            table[name] = new SourceEntry((task, _) => new WorldTaskSource(task, name), 3, probe.ClassCount, kind);
        }
        return table;
    }

    private static SourceEntry Expect(TaskSpec task, SourceEntry source, string kind) => source.Task == kind
        ? source
        : throw new InvalidDataException($"recipe: task '{task.Name}' uses head '{task.Head}' but source '{task.Source}' is a {source.Task} source, not {kind}");

    private static Optimizer CreateOptimizer(OptimizerSpec spec, MultiTaskModel model) => spec.Type switch
    {
        "sgd" => new Sgd(model.Parameters(), spec.Lr, spec.Momentum, weightDecay: spec.WeightDecay, nesterov: spec.Nesterov),
        "adamw" => new AdamW(model.Parameters(), spec.Lr, spec.Beta1, spec.Beta2, weightDecay: spec.WeightDecay),
        _ => throw new InvalidDataException($"recipe: 'optimizer.type' expected \"sgd\" or \"adamw\", found \"{spec.Type}\""),
    };

    private static Schedule CreateSchedule(ScheduleSpec spec, int steps)
    {
        int decaySteps = Math.Max(1, steps - spec.Warmup);
        Schedule main = spec.Type switch
        {
            "constant" => Schedule.Constant(),
            "cosine" => Schedule.Cosine(decaySteps),
            "linear" => Schedule.Linear(1.0, 0.0, decaySteps),
            _ => throw new InvalidDataException($"recipe: 'schedule.type' expected \"constant\", \"cosine\" or \"linear\", found \"{spec.Type}\""),
        };
        return spec.Warmup > 0 ? Schedule.Warmup(spec.Warmup, main) : main;
    }

    private static T Lookup<T>(Dictionary<string, T> table, string name, string what) =>
        table.TryGetValue(name, out var value)
            ? value
            : throw new InvalidDataException($"recipe: {what} '{name}' is unknown; known: {string.Join(", ", table.Keys.Order(StringComparer.Ordinal))}");
}
