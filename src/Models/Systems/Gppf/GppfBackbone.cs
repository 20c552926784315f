using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Gppf;

/// <summary>
/// GPPF's sparsely activated backbone (paper 001, systems.md): a narrow ResNet (stem 7x7/2 conv +
/// BN + ReLU, 3x3/2 max pool, three stages of <c>depth</c> basic blocks of width w, 2w, 4w) in
/// which the stem and every residual block are lego layers of N units of identical architecture,
/// each with per-task routing logits. Features at strides 4, 8, 16 (finest first), as
/// <see cref="NarrowResNetBackbone"/>, so the same classification, detection and segmentation heads
/// sit on it. N = 1 is the static hard-sharing backbone. State-dict keys:
/// "stem.units.{k}.*", "layer{s}.{b}.units.{k}.*", "….controller.{task}".
/// </summary>
public sealed class GppfBackbone : IMultiScaleBackbone, IScheduledBackbone
{
    private readonly Network _network;
    private readonly Generator _fallbackNoise;
    private readonly Dictionary<string, int[]> _fixedRoutes = new(StringComparer.Ordinal);

    /// <param name="inChannels">Image channels.</param>
    /// <param name="width">Stem and first-stage width w.</param>
    /// <param name="depth">Residual blocks (lego layers) per stage.</param>
    /// <param name="unitCount">Units N per lego layer (1: static hard sharing).</param>
    /// <param name="mode">Training routing (soft by default).</param>
    /// <param name="generator">Initialises the units (each unit independently) and seeds the noise used outside a trainer.</param>
    /// <param name="routeScale">Logits = routeScale · θ (<see cref="RouteController"/>): a learning-rate multiplier for the controllers under Adam.</param>
    public GppfBackbone(int inChannels, int width, int depth, int unitCount, RoutingMode mode = RoutingMode.Soft, Generator? generator = null, float routeScale = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        if (unitCount < 1)
            throw new ArgumentOutOfRangeException(nameof(unitCount), unitCount, $"GPPF backbone: 'units' expected N >= 1 units per lego layer, found {unitCount}");
        generator ??= Generator.Default;
        InChannels = inChannels;
        Width = width;
        Depth = depth;
        UnitCount = unitCount;
        Mode = mode;
        RouteScale = routeScale;
        _network = new Network(inChannels, width, depth, unitCount, generator, routeScale);
        _fallbackNoise = new Generator(generator.Seed ^ 0x6770_7066UL);
        Schedule = new TemperatureSchedule(1);
        Tau = Schedule.Start;
    }

    public Module Module => _network;

    public int InChannels { get; }

    public int Width { get; }

    public int Depth { get; }

    public int UnitCount { get; }

    public RoutingMode Mode { get; set; }

    /// <summary>Controllers' logit scale.</summary>
    public float RouteScale { get; }

    /// <summary>Ablation: the backbone's batch norms use each device's own batch (local BN) instead of cross-task SyncBN.</summary>
    public bool LocalBatchNorm { get; set; }

    public TemperatureSchedule Schedule { get; set; }

    /// <summary>The Gumbel temperature of the current step (set by <see cref="OnStep"/>).</summary>
    public double Tau { get; set; }

    /// <summary>The lego layers in order: stem, then every block of every stage.</summary>
    public IReadOnlyList<LegoLayer> Layers => _network.Layers;

    /// <summary>Names of <see cref="Layers"/> as in the state dict ("stem", "layer1.0", ...).</summary>
    public IReadOnlyList<string> LayerNames => _network.LayerNames;

    public IReadOnlyList<int> FeatureChannels => [Width, 2 * Width, 4 * Width];

    public IReadOnlyList<int> FeatureStrides => [4, 8, 16];

    /// <summary>Tasks that have routing logits.</summary>
    public IReadOnlyCollection<string> Tasks => Layers[0].Controller?.Tasks ?? (IReadOnlyCollection<string>)_tasksWithoutControllers;

    private readonly HashSet<string> _tasksWithoutControllers = new(StringComparer.Ordinal);

    public void Prepare(IReadOnlyList<string> tasks, long totalSteps)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        foreach (var task in tasks)
            if (!Tasks.Contains(task)) AddTask(task);
        Schedule = Schedule with { TotalSteps = Math.Max(1, totalSteps) };
        Tau = Schedule.At(0);
    }

    public void OnStep(long step) => Tau = Schedule.At(step);

    /// <summary>Adds routing logits (zeros: uniform) for a new task in every lego layer, e.g. for sparse finetuning.</summary>
    public void AddTask(string task)
    {
        ArgumentException.ThrowIfNullOrEmpty(task);
        if (UnitCount == 1) { _tasksWithoutControllers.Add(task); return; }
        foreach (var layer in Layers) layer.Controller!.Add(task);
    }

    /// <summary>Routes <paramref name="task"/> along a fixed path (one unit per layer), as fixed-path finetuning does; null clears it.</summary>
    public void SetFixedRoute(string task, IReadOnlyList<int>? route)
    {
        if (route is null) { _fixedRoutes.Remove(task); return; }
        CheckRoute(route);
        _fixedRoutes[task] = route.ToArray();
    }

    /// <summary>p^t_l for every layer l: [layer][unit].</summary>
    public double[][] RoutingProbabilities(string task) => Layers.Select(l => l.Probabilities(task)).ToArray();

    /// <summary>The task's argmax unit in every layer (its test-time path).</summary>
    public int[] ArgmaxRoute(string task) => _fixedRoutes.TryGetValue(task, out var fixedRoute) ? (int[])fixedRoute.Clone() : Layers.Select(l => l.ArgmaxUnit(task)).ToArray();

    public Features Forward(string task, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Size(1) != InChannels)
            throw new TensorShapeException($"GPPF backbone: expected images [B, {InChannels}, H, W], found {Shapes.Format(input.Shape)}", nameof(input));
        using var local = LocalBatchNorm && SyncBatchNormScope.CurrentReducer is not null
            ? SyncBatchNormScope.Use(LocalBatchStatisticsReducer.Instance, SyncBatchNormScope.UpdatesRunningStatistics)
            : null;
        var noise = VirtualDevice.Current?.Noise ?? _fallbackNoise;
        _fixedRoutes.TryGetValue(task, out var route);
        var layers = Layers;
        var x = layers[0].Forward(task, input, Mode, Tau, noise, route?[0]);
        x = Functional.MaxPool2d(x, 3, 2, 1);
        var features = new List<Tensor>(3);
        int index = 1;
        for (int s = 0; s < 3; s++)
        {
            for (int b = 0; b < Depth; b++, index++)
                x = layers[index].Forward(task, x, Mode, Tau, noise, route?[index]);
            features.Add(x);
        }
        return new Features(features);
    }

    /// <summary>
    /// The plain network of one path: a backbone with one unit per layer holding copies of unit
    /// <paramref name="route"/>[l] of every layer l (weights and running statistics). It runs the
    /// same layers in the same order as argmax routing along that path, so its outputs are identical.
    /// </summary>
    public GppfBackbone ExtractPath(IReadOnlyList<int> route)
    {
        CheckRoute(route);
        var plain = new GppfBackbone(InChannels, Width, Depth, 1, Mode, new Generator(0));
        var source = _network.StateDict();
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int l = 0; l < Layers.Count; l++)
        {
            string from = $"{LayerNames[l]}.units.{route[l]}.", to = $"{LayerNames[l]}.units.0.";
            foreach (var (key, value) in source)
                if (key.StartsWith(from, StringComparison.Ordinal)) state[to + key[from.Length..]] = value;
        }
        var (missing, unexpected) = plain._network.LoadStateDict(state, strict: true);
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new InvalidOperationException($"GPPF extraction: state mismatch (missing {string.Join(", ", missing)}; unexpected {string.Join(", ", unexpected)})");
        if (!_network.Training) plain._network.Eval();
        return plain;
    }

    /// <summary>The plain network of <paramref name="task"/>'s argmax path.</summary>
    public GppfBackbone ExtractPath(string task) => ExtractPath(ArgmaxRoute(task));

    private void CheckRoute(IReadOnlyList<int> route)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (route.Count != Layers.Count || route.Any(k => k < 0 || k >= UnitCount))
            throw new ArgumentException($"GPPF route: expected {Layers.Count} unit indices in 0..{UnitCount - 1} (one per lego layer), found [{string.Join(", ", route)}]", nameof(route));
    }

    /// <summary>The module tree: "stem", then "layer{s}" lists of lego blocks.</summary>
    private sealed class Network : Module
    {
        public Network(int inChannels, int width, int depth, int unitCount, Generator generator, float routeScale)
        {
            var layers = new List<LegoLayer>();
            var names = new List<string>();
            var stemUnits = Enumerable.Range(0, unitCount).Select(_ => (Layer)new Sequential(
                ConvInit.KaimingConv(inChannels, width, 7, 2, 3, generator: generator), new BatchNorm2d(width), Lambda.Relu())).ToList();
            layers.Add(RegisterModule("stem", new LegoLayer(stemUnits, routeScale)));
            names.Add("stem");
            int channels = width;
            for (int s = 0; s < 3; s++)
            {
                int planes = width << s;
                var stage = RegisterModule($"layer{s + 1}", new ModuleList<LegoLayer>());
                for (int b = 0; b < depth; b++)
                {
                    int stride = b == 0 && s > 0 ? 2 : 1, inC = channels;
                    var units = Enumerable.Range(0, unitCount).Select(_ => (Layer)new BasicBlock(inC, planes, stride, generator)).ToList();
                    var lego = new LegoLayer(units, routeScale);
                    stage.Add(lego);
                    layers.Add(lego);
                    names.Add($"layer{s + 1}.{b}");
                    channels = planes;
                }
            }
            Layers = layers;
            LayerNames = names;
        }

        /// <summary>The lego layers in order; registered (and owned) as "stem" and "layerN.b".</summary>
        [Unregistered]
        public IReadOnlyList<LegoLayer> Layers { get; }

        public IReadOnlyList<string> LayerNames { get; }
    }
}
