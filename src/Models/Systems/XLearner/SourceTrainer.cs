using System.Globalization;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>One pre-training source: its catalog source, the head it trains and the task group (sub-backbone) it belongs to.</summary>
/// <param name="Source">A <see cref="RecipeCatalog.Sources"/> name (also the task's name).</param>
/// <param name="Head">"classification", "multi-label", "detection", "segmentation" or "depth".</param>
/// <param name="Group">The task group: sources of one group share a sub-backbone in the expansion stage.</param>
/// <param name="Batch">Images per step of this source.</param>
/// <param name="Name">The task's name (state-dict key of its head, metric prefix); the source's name by default.</param>
public sealed record SourceSpec(string Source, string Head, string Group, int Batch, string? Name = null)
{
    /// <summary>The task's name: <see cref="Name"/> or the source's.</summary>
    public string TaskName => Name ?? Source;

    /// <summary>The default group of a head: classification and multi-label → "cls", detection → "det", segmentation → "seg", depth → "depth".</summary>
    public static string GroupOfHead(string head) => head switch
    {
        "classification" or "multi-label" => "cls",
        "detection" => "det",
        "segmentation" => "seg",
        "depth" => "depth",
        _ => throw new ArgumentException($"xlearner: head '{head}' has no task group; expected classification, multi-label, detection, segmentation or depth", nameof(head)),
    };
}

/// <summary>Per-step outcome of <see cref="SourceTrainer"/>.</summary>
/// <param name="Step">0-based step.</param>
/// <param name="Loss">(1/N) Σ_n loss_n over the N sources.</param>
/// <param name="SourceLosses">Each source's loss by name.</param>
public sealed record SourceStep(long Step, double Loss, IReadOnlyDictionary<string, double> SourceLosses);

/// <summary>
/// Multi-source training with the paper's objective (Eq. 1): every step draws one batch from each
/// of the N sources, runs it through the backbone (the task name routes it) and its own head, and
/// minimises (1/N) Σ_n ℓ_n. One optimiser over the whole model; parameters no source reached this
/// step (gammas in the alone phase, say) get no gradient and no update. Deterministic for a seed.
/// </summary>
public sealed class SourceTrainer
{
    private readonly Generator[] _data;
    // Each source's last finite loss and its step, for the non-finite error (divergence or a sudden NaN).
    private readonly Dictionary<string, (long Step, double Loss)> _lastFinite = new(StringComparer.Ordinal);

    /// <param name="model">Backbone and one head per source.</param>
    /// <param name="optimizer">Updates the model.</param>
    /// <param name="scheduler">Learning-rate schedule (stepped after every update), or null.</param>
    /// <param name="seed">Seeds the data order.</param>
    /// <param name="firstStep">Index of the first step (a later stage continues the numbering).</param>
    public SourceTrainer(MultiTaskModel model, Optimizer optimizer, LearningRateScheduler? scheduler, ulong seed, long firstStep = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstStep);
        Step = firstStep;
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Scheduler = scheduler;
        _data = Enumerable.Range(0, model.Tasks.Count).Select(t => new Generator(MultiTaskTrainer.Mix(seed, 7, t))).ToArray();
    }

    public MultiTaskModel Model { get; }

    public Optimizer Optimizer { get; }

    public LearningRateScheduler? Scheduler { get; }

    /// <summary>Steps done.</summary>
    public long Step { get; private set; }

    /// <summary>Called before every step with its index (the expansion schedule sets the phase here).</summary>
    public Action<long>? BeforeStep { get; set; }

    /// <summary>Called after the backward pass, before the update, with the step index (gradients are on the parameters).</summary>
    public Action<long>? AfterBackward { get; set; }

    /// <summary>Called after the update (pruning re-applies its masks here).</summary>
    public Action<long>? AfterUpdate { get; set; }

    /// <summary>One step over every source.</summary>
    public SourceStep RunStep()
    {
        long step = Step;
        BeforeStep?.Invoke(step);
        Model.Train();
        using var scope = new TensorScope();
        Tensor? total = null;
        var losses = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int t = 0; t < Model.Tasks.Count; t++)
        {
            var task = Model.Tasks[t];
            var batch = task.Source.Sample(DataSplit.Train, step, task.BatchSize, task.InputSize, _data[t]);
            var output = Model.Forward(task.Name, batch);
            double value = output.Loss.Item();
            if (!double.IsFinite(value))
            {
                var badInputs = (NonFiniteDiagnosis.CountNonFinite(batch.Inputs), (long)batch.Inputs.Numel);
                string cause = NonFiniteDiagnosis.Explain(badInputs, Model, Optimizer, task.Name, _lastFinite.TryGetValue(task.Name, out var last) ? last : null);
                throw new NonFiniteLossException(string.Create(CultureInfo.InvariantCulture, $"xlearner: non-finite loss ({value}) of source '{task.Name}' at step {step}: {cause}")) { Step = step, Task = task.Name };
            }
            _lastFinite[task.Name] = (step, value);
            losses[task.Name] = value;
            total = total is null ? output.Loss : total + output.Loss;
        }
        var objective = total! * (1f / Model.Tasks.Count);
        double loss = objective.Item();
        objective.Backward();
        AfterBackward?.Invoke(step);
        Optimizer.Step();
        Scheduler?.Step();
        Optimizer.ZeroGrad();
        AfterUpdate?.Invoke(step);
        Step++;
        return new SourceStep(step, loss, losses);
    }

    /// <summary>Runs <paramref name="steps"/> steps; <paramref name="onStep"/> after each.</summary>
    public List<SourceStep> Run(int steps, Action<SourceStep>? onStep = null)
    {
        var curve = new List<SourceStep>(steps);
        for (int s = 0; s < steps; s++)
        {
            var result = RunStep();
            curve.Add(result);
            onStep?.Invoke(result);
        }
        return curve;
    }

    /// <summary>Test metrics of every source ("source/metric"), as the SIMT trainer computes them.</summary>
    public static Dictionary<string, double> Evaluate(MultiTaskModel model, int evalBatches)
    {
        ArgumentNullException.ThrowIfNull(model);
        var evaluator = new MultiTaskTrainer(model, new Sgd(model.Parameters(), 0f), null, new TrainerOptions(EvalBatches: evalBatches));
        return evaluator.Evaluate();
    }

    /// <summary>
    /// The tasks of <paramref name="sources"/> on a backbone of this feature shape: each source
    /// gets a fresh head from the recipe catalog (multi-scale heads read every map).
    /// </summary>
    public static List<TrainingTask> BuildTasks(IReadOnlyList<SourceSpec> sources, IMultiScaleBackbone backbone, int headWidth, int inputSize, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(backbone);
        var model = new ModelSpec { HeadWidth = headWidth };
        var shape = new FeatureShape(backbone.FeatureChannels, backbone.FeatureStrides);
        var tasks = new List<TrainingTask>();
        foreach (var source in sources)
        {
            if (!RecipeCatalog.Sources.TryGetValue(source.Source, out var entry))
                throw new ArgumentException($"xlearner: unknown source '{source.Source}'; known: {string.Join(", ", RecipeCatalog.Sources.Keys.Order(StringComparer.Ordinal))}", nameof(sources));
            var spec = new TaskSpec { Name = source.TaskName, Source = source.Source, Head = source.Head };
            ITaskHead head = RecipeCatalog.MultiScaleHeads.TryGetValue(source.Head, out var multiScale)
                ? multiScale(spec, entry, shape, model, generator)
                : RecipeCatalog.Heads.TryGetValue(source.Head, out var single)
                    ? single(spec, entry, backbone.FeatureChannels[^1], generator)
                    : throw new ArgumentException($"xlearner: source '{source.Source}' names unknown head '{source.Head}'", nameof(sources));
            tasks.Add(new TrainingTask(source.TaskName, entry.Create(source.TaskName, 0), head, 1.0, source.Batch, inputSize));
        }
        return tasks;
    }
}
