using System.Diagnostics;
using System.Text.Json.Serialization;
using Tessera.Engine.Random;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Gppf;

/// <summary>One pre-training task of the experiment: name, world source, head, input size, and the metric the table reports.</summary>
public sealed record GppfTask(string Name, string Source, string Head, int Size, string Metric, bool LowerIsBetter = false);

/// <summary>The experiment's scale: steps, batch, devices, backbone size.</summary>
public sealed record GppfScale(int Steps, int Batch, int Devices, int Width, int Depth, int HeadWidth, int FinetuneSteps, int EvalBatches, int RecordEvery);

/// <summary>
/// What one trained arm gave: test metrics ("task/metric"), run time, the routing probabilities recorded
/// over training, and, at the end, the backbone's lego layers, parameter count, each task's argmax route
/// and routing probabilities. Everything but <see cref="Model"/> is plain data, saved in the run folder's
/// <c>seed-N.json</c> so that <c>--reuse-seeds</c> rebuilds the page without training again.
/// </summary>
public sealed record ArmResult(string Name, IReadOnlyDictionary<string, double> Metrics, double Seconds, string? Diverged,
    IReadOnlyList<RoutingSnapshot> Routing, IReadOnlyList<string> LayerNames, long Parameters,
    IReadOnlyDictionary<string, int[]> Routes, IReadOnlyDictionary<string, double[][]> Probabilities)
{
    /// <summary>The trained model (null for an arm read back from a saved seed).</summary>
    [JsonIgnore]
    public MultiTaskModel? Model { get; init; }

    /// <summary>The trained backbone; only the run that trained the arm has it.</summary>
    [JsonIgnore]
    public GppfBackbone Backbone => (GppfBackbone)(Model ?? throw new InvalidOperationException($"gppf: arm '{Name}' was read back from a saved seed and has no model; train it again (run without --reuse-seeds)")).Backbone;

    /// <summary>The plain-data record of <paramref name="model"/> after training.</summary>
    public static ArmResult Of(string name, IReadOnlyDictionary<string, double> metrics, double seconds, string? diverged, IReadOnlyList<RoutingSnapshot> routing, MultiTaskModel model)
    {
        var backbone = (GppfBackbone)model.Backbone;
        var tasks = model.Tasks.Select(t => t.Name).ToList();
        return new ArmResult(name, metrics, seconds, diverged, routing, backbone.LayerNames.ToList(), backbone.Module.ParameterCount(),
            tasks.ToDictionary(t => t, backbone.ArgmaxRoute, StringComparer.Ordinal),
            tasks.ToDictionary(t => t, backbone.RoutingProbabilities, StringComparer.Ordinal)) { Model = model };
    }
}

/// <summary>Routing probabilities of every task at one training step: [task][lego layer][unit].</summary>
public sealed record RoutingSnapshot(long Step, Dictionary<string, double[][]> Probabilities);

/// <summary>
/// Builds and trains the experiment's arms through the ordinary recipe path (<see cref="RecipeCatalog.Build"/>
/// with a "gppf-resnet" model) and the SIMT trainer, so the experiment measures what
/// <c>tessera train gppf</c> trains.
/// </summary>
public sealed class GppfArms(GppfScale scale, ulong seed, Action<string> log)
{
    /// <summary>Optimiser of every arm (pre-training and finetuning).</summary>
    public static OptimizerSpec Optimizer => new() { Type = "adamw", Lr = 0.003f, WeightDecay = 1e-4f };

    /// <summary>Controllers' logit scale in every routed arm (see <see cref="RouteController"/>).</summary>
    public const float RouteScale = 30f;

    /// <summary>A recipe for <paramref name="tasks"/> on a GPPF backbone of N = <paramref name="units"/>.</summary>
    public Recipe Recipe(string name, IReadOnlyList<GppfTask> tasks, int units, int devices, int steps, int batch, bool localBn = false, string routing = "soft") => new()
    {
        Name = name,
        Steps = steps,
        Batch = batch,
        Size = 32,
        Seed = seed,
        Devices = devices,
        EvalBatches = scale.EvalBatches,
        Model = new ModelSpec { Type = "gppf-resnet", Width = scale.Width, Depth = scale.Depth, HeadWidth = scale.HeadWidth, Units = units, Routing = routing, LocalBn = localBn, RouteScale = RouteScale },
        Optimizer = Optimizer,
        Schedule = new ScheduleSpec { Type = "cosine", Warmup = Math.Max(1, steps / 20) },
        Tasks = tasks.Select(t => new TaskSpec { Name = t.Name, Source = t.Source, Head = t.Head, Size = t.Size }).ToList(),
    };

    /// <summary>Trains <paramref name="recipe"/> to the end (or to a non-finite loss) and evaluates it.</summary>
    public ArmResult Train(Recipe recipe, Action<RecipeBuild>? prepare = null)
    {
        var build = RecipeCatalog.Build(recipe);
        prepare?.Invoke(build);
        var trainer = build.CreateTrainer();
        var backbone = (GppfBackbone)build.Model.Backbone;
        var routing = new List<RoutingSnapshot>();
        var clock = Stopwatch.StartNew();
        string? diverged = null;
        double recentLoss = double.NaN;
        try
        {
            while (trainer.Step < recipe.Steps)
            {
                if (backbone.UnitCount > 1 && trainer.Step % scale.RecordEvery == 0) routing.Add(new RoutingSnapshot(trainer.Step, Snapshot(backbone, recipe)));
                var result = trainer.RunStep();
                recentLoss = double.IsNaN(recentLoss) ? result.Loss : 0.9 * recentLoss + 0.1 * result.Loss;
                if (trainer.Step % Math.Max(1, recipe.Steps / 4) == 0 && trainer.Step < recipe.Steps)
                    log($"  {recipe.Name}: step {trainer.Step}/{recipe.Steps}, loss {recentLoss:F3}{(backbone.UnitCount > 1 ? $", tau {backbone.Tau:F2}" : "")}, {clock.Elapsed.TotalSeconds:F0} s");
            }
        }
        catch (NonFiniteLossException e)
        {
            diverged = e.Message;
        }
        if (backbone.UnitCount > 1) routing.Add(new RoutingSnapshot(trainer.Step, Snapshot(backbone, recipe)));
        var metrics = diverged is null ? trainer.Evaluate() : new Dictionary<string, double>();
        double seconds = clock.Elapsed.TotalSeconds;
        log($"{recipe.Name}: {(diverged is null ? "done" : "diverged")} in {seconds:F0} s {Summary(metrics)}");
        return ArmResult.Of(recipe.Name, metrics, seconds, diverged, routing, build.Model);
    }

    /// <summary>Test metrics of <paramref name="backbone"/> with the heads of <paramref name="tasks"/> (evaluation only).</summary>
    public Dictionary<string, double> Evaluate(IMultiTaskBackbone backbone, IReadOnlyList<TrainingTask> tasks)
    {
        var model = new MultiTaskModel(backbone, tasks);
        var trainer = new MultiTaskTrainer(model, new Sgd(model.Parameters(), 0f), null, new TrainerOptions(1, seed, EvalBatches: scale.EvalBatches));
        return trainer.Evaluate();
    }

    private static Dictionary<string, double[][]> Snapshot(GppfBackbone backbone, Recipe recipe) =>
        recipe.Tasks.ToDictionary(t => t.Name, t => backbone.RoutingProbabilities(t.Name), StringComparer.Ordinal);

    private static string Summary(IReadOnlyDictionary<string, double> metrics) =>
        string.Join(" ", metrics.Where(kv => !kv.Key.EndsWith("/loss", StringComparison.Ordinal) && !kv.Key.EndsWith("pixel_acc", StringComparison.Ordinal) && !kv.Key.EndsWith("/mAP", StringComparison.Ordinal) && !kv.Key.EndsWith("/rmse", StringComparison.Ordinal))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value:F3}"));

    /// <summary>A generator for a purpose of this seed (heads of finetuning arms).</summary>
    public Generator Init(ulong purpose) => new(MultiTaskTrainer.Mix(seed, 100 + purpose, 0));
}
