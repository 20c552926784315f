using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Gppf;

/// <summary>
/// Per-task routing logits of one lego layer: parameter "{task}" θ of shape [N], initialised to
/// zero (uniform p^t_l); the logits are <see cref="Scale"/>·θ and stand for log p^t_l up to a
/// constant, which the softmax of Eq. 1 ignores. The scale is our choice for short runs: with
/// Adam it acts as a learning-rate multiplier on the controllers (the paper trains 500k steps;
/// we train hundreds), so the routes can leave uniform at all. Scale 1 is the plain parameterisation.
/// </summary>
public sealed class RouteController : Module
{
    private readonly Dictionary<string, Tensor> _logits = new(StringComparer.Ordinal);

    public RouteController(int unitCount, float scale = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(unitCount, 1);
        if (!(scale > 0) || !float.IsFinite(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, $"GPPF controller: 'route_scale' expected a finite value > 0, found {scale}");
        UnitCount = unitCount;
        Scale = scale;
    }

    public int UnitCount { get; }

    /// <summary>Logits = Scale · θ.</summary>
    public float Scale { get; }

    public IReadOnlyCollection<string> Tasks => _logits.Keys;

    /// <summary>Registers task <paramref name="task"/>'s logits (zeros); a task added twice is an error.</summary>
    public Tensor Add(string task)
    {
        if (_logits.ContainsKey(task))
            throw new ArgumentException($"GPPF controller: task '{task}' already has routing logits; task names must be unique", nameof(task));
        var logits = RegisterParameter(task, InitRules.Constant([UnitCount], 0f));
        _logits[task] = logits;
        return logits;
    }

    public bool Contains(string task) => _logits.ContainsKey(task);

    /// <summary>Task <paramref name="task"/>'s logits Scale·θ (differentiable in θ), or an error naming the known tasks.</summary>
    public Tensor Logits(string task) => Scale == 1f ? Parameter(task) : Parameter(task) * Scale;

    /// <summary>Task <paramref name="task"/>'s parameter θ.</summary>
    public Tensor Parameter(string task) => _logits.TryGetValue(task, out var logits)
        ? logits
        : throw new ArgumentException($"GPPF controller: no routing logits for task '{task}'; known tasks: {string.Join(", ", _logits.Keys)}; add the task to the backbone (Prepare/AddTask) before training it", nameof(task));
}

/// <summary>
/// A GPPF lego layer: N units of identical architecture ("units.k") and a controller per task
/// ("controller.{task}"). Training routes by a Gumbel-softmax sample of the task's logits
/// (<see cref="RoutingMode"/>); evaluation, and any task with a fixed route, runs one unit alone,
/// so the argmax path costs one unit per layer and equals the extracted plain network bit for bit.
/// With N = 1 the layer is a plain layer (hard sharing) and has no controller.
/// </summary>
public sealed class LegoLayer : Module
{
    private readonly ModuleList<Layer> _units;

    public LegoLayer(IReadOnlyList<Layer> units, float routeScale = 1f)
    {
        ArgumentNullException.ThrowIfNull(units);
        if (units.Count == 0)
            throw new ArgumentException("GPPF lego layer: expected at least one unit, found none", nameof(units));
        _units = RegisterModule("units", new ModuleList<Layer>(units));
        if (units.Count > 1) Controller = RegisterModule("controller", new RouteController(units.Count, routeScale));
    }

    public int UnitCount => _units.Count;

    public IReadOnlyList<Layer> Units => _units;

    /// <summary>The routing logits (null when N = 1).</summary>
    public RouteController? Controller { get; }

    /// <summary>softmax of the task's logits: p^t_l (one entry of 1 when N = 1).</summary>
    public double[] Probabilities(string task)
    {
        if (Controller is null) return [1.0];
        var logits = Controller.Logits(task).ToArray();
        double max = logits.Max();
        var e = logits.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>The task's most probable unit (the first on ties; 0 when N = 1).</summary>
    public int ArgmaxUnit(string task)
    {
        if (Controller is null) return 0;
        var logits = Controller.Parameter(task).ToArray();
        int best = 0;
        for (int k = 1; k < logits.Length; k++)
            if (logits[k] > logits[best]) best = k;
        return best;
    }

    /// <summary>
    /// The layer's output for <paramref name="task"/>: unit <paramref name="fixedUnit"/> alone when
    /// given, the argmax unit alone in evaluation, otherwise the Gumbel-routed mix at temperature
    /// <paramref name="tau"/> with noise from <paramref name="noise"/>.
    /// </summary>
    public Tensor Forward(string task, Tensor input, RoutingMode mode, double tau, Generator noise, int? fixedUnit = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (fixedUnit is int unit)
        {
            if (unit < 0 || unit >= UnitCount)
                throw new ArgumentOutOfRangeException(nameof(fixedUnit), unit, $"GPPF lego layer: fixed route expected a unit in 0..{UnitCount - 1}, found {unit}");
            return _units[unit].Forward(input);
        }
        if (Controller is null) return _units[0].Forward(input);
        if (!Training) return _units[ArgmaxUnit(task)].Forward(input);
        var logits = Controller.Logits(task);
        if (mode == RoutingMode.Soft)
        {
            var weights = Functional.GumbelSoftmax(logits, (float)tau, hard: false, generator: noise);
            var outputs = _units.Select(u => u.Forward(input)).ToArray();
            return Functional.RoutedCombine(weights, outputs);
        }
        var oneHot = Functional.GumbelSoftmax(logits, (float)tau, hard: true, generator: noise);
        int chosen = Array.IndexOf(oneHot.ToArray(), 1f);
        var output = RunAlone(chosen, input);
        // u_hard[k] · M_k(x): value M_k(x) exactly; the gradient reaches the logits through u[k].
        return Functional.RoutedCombine(oneHot.Narrow(0, chosen, 1), [output]);
    }

    /// <summary>
    /// Unit <paramref name="unit"/> under hard routing: inside a SIMT step its batch norms sync only
    /// with the devices that ran the same unit (<see cref="UnitSlotReducer"/>), and the lowest such
    /// device updates the unit's running statistics.
    /// </summary>
    private Tensor RunAlone(int unit, Tensor input)
    {
        var outer = SyncBatchNormScope.CurrentReducer;
        if (outer is null || outer is LocalBatchStatisticsReducer) return _units[unit].Forward(input);
        int device = VirtualDevice.Current?.Index ?? 0;
        bool owner = UnitSlotReducer.IsFirstUser(outer, device, unit, UnitCount);
        using var scope = SyncBatchNormScope.Use(new UnitSlotReducer(outer, unit, UnitCount), owner);
        return _units[unit].Forward(input);
    }
}
