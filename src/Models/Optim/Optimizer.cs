using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Optim;

/// <summary>Parameters that share hyper-parameters (per-group learning rate and weight decay, as in PyTorch).</summary>
public sealed class ParameterGroup
{
    public ParameterGroup(IEnumerable<Tensor> parameters, float? learningRate = null, float? weightDecay = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.ToList();
        LearningRateOverride = learningRate;
        WeightDecayOverride = weightDecay;
    }

    public IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>Current learning rate (schedulers write it).</summary>
    public float LearningRate { get; set; }

    /// <summary>The learning rate a scheduler scales (the group's own or the optimiser's default).</summary>
    public float InitialLearningRate { get; internal set; }

    public float WeightDecay { get; set; }

    internal float? LearningRateOverride { get; }

    internal float? WeightDecayOverride { get; }
}

/// <summary>Base of the optimisers: parameter groups, per-parameter state, Step and ZeroGrad.</summary>
public abstract class Optimizer
{
    protected Optimizer(IEnumerable<ParameterGroup> groups, float learningRate, float weightDecay)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (!(learningRate >= 0f) || !float.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"{GetType().Name}: 'learningRate' expected a finite value >= 0, found {learningRate}");
        if (!(weightDecay >= 0f))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"{GetType().Name}: 'weightDecay' expected >= 0, found {weightDecay}");
        Groups = groups.ToList();
        if (Groups.Count == 0 || Groups.All(g => g.Parameters.Count == 0))
            throw new ArgumentException($"{GetType().Name}: expected at least one parameter, found none", nameof(groups));
        foreach (var group in Groups)
        {
            group.LearningRate = group.InitialLearningRate = group.LearningRateOverride ?? learningRate;
            group.WeightDecay = group.WeightDecayOverride ?? weightDecay;
            foreach (var p in group.Parameters)
            {
                if (!p.RequiresGrad || !p.IsLeaf)
                    throw new ArgumentException($"{GetType().Name}: every parameter must be a leaf that requires grad; found '{p.Name ?? "unnamed"}' of shape {Shapes.Format(p.Shape)} that is not", nameof(groups));
            }
        }
    }

    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; protected set; }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        using var noGrad = GradMode.NoGrad();
        StepCount++;
        foreach (var group in Groups)
            foreach (var p in group.Parameters)
                if (p.Grad is not null)
                    Update(group, p, p.Grad);
    }

    public void ZeroGrad()
    {
        foreach (var group in Groups)
            foreach (var p in group.Parameters)
                p.Grad = null;
    }

    /// <summary>Updates one parameter in place from its gradient.</summary>
    protected abstract void Update(ParameterGroup group, Tensor parameter, Tensor gradient);

    /// <summary>Per-parameter state tensors by name ("momentum_buffer", "exp_avg"...), created zeroed on first use, parameter-shaped unless <paramref name="shape"/> is given.</summary>
    protected Tensor State(Tensor parameter, string name, int[]? shape = null)
    {
        if (!_state.TryGetValue(parameter, out var slots))
            _state[parameter] = slots = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        if (!slots.TryGetValue(name, out var tensor))
            slots[name] = tensor = shape is null ? Tensor.ZerosLike(parameter) : Tensor.Zeros(shape);
        return tensor;
    }

    protected bool HasState(Tensor parameter, string name) => _state.TryGetValue(parameter, out var slots) && slots.ContainsKey(name);

    private readonly Dictionary<Tensor, Dictionary<string, Tensor>> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>The dense float span of a parameter-shaped tensor (parameters and state are allocated dense).</summary>
    protected static Span<float> Data(Tensor t, string what) =>
        t.IsContiguous ? t.AsSpan<float>() : throw new InvalidOperationException($"optimiser: {what} of shape {Shapes.Format(t.Shape)} is a strided view; parameters must be dense tensors");
}
