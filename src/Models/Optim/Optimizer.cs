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

    private string? _profileName;

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        using var noGrad = GradMode.NoGrad();
        using var profiled = OpProfiler.Section(_profileName ??= $"optimizer step ({GetType().Name})");
        StepCount++;
        foreach (var group in Groups)
            foreach (var p in group.Parameters)
                if (p.Grad is not null)
                    Update(group, p, p.Grad);
    }

    /// <summary>
    /// Clears the gradients of every parameter this optimiser updates. The old gradient tensors are
    /// disposed, so their memory serves the next backward instead of new pages (which fault in
    /// slowly); Clone a gradient you keep past this call.
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var group in Groups)
            foreach (var p in group.Parameters)
            {
                p.Grad?.Dispose();
                p.Grad = null;
            }
    }

    /// <summary>Updates one parameter in place from its gradient.</summary>
    protected abstract void Update(ParameterGroup group, Tensor parameter, Tensor gradient);

    /// <summary>Per-parameter state tensors by name ("momentum_buffer", "exp_avg"...), created zeroed on first use, parameter-shaped unless <paramref name="shape"/> is given.</summary>
    protected Tensor State(Tensor parameter, string name, int[]? shape = null)
    {
        if (!_state.TryGetValue(parameter, out var slots))
            _state[parameter] = slots = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        if (!slots.TryGetValue(name, out var tensor))
            using (TensorScope.Unscoped())
                slots[name] = tensor = shape is null ? Tensor.ZerosLike(parameter) : Tensor.Zeros(shape);
        return tensor;
    }

    /// <summary>
    /// Per-parameter state for checkpoints, as PyTorch's optimizer state_dict numbers it: key
    /// "{index}.{slot}" where index counts parameters over all groups in order. The tensors are
    /// the live buffers (copy before mutating).
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        int index = 0;
        foreach (var p in Groups.SelectMany(g => g.Parameters))
        {
            if (_state.TryGetValue(p, out var slots))
                foreach (var (slot, tensor) in slots)
                    result[$"{index}.{slot}"] = tensor;
            index++;
        }
        return result;
    }

    /// <summary>Restores <see cref="StateDict"/>'s output and the step count; a key naming no parameter or a shape mismatch is an error.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        var parameters = Groups.SelectMany(g => g.Parameters).ToList();
        var loaded = new List<(Tensor Parameter, string Slot, Tensor Value)>();
        foreach (var (key, value) in state)
        {
            int dot = key.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || !int.TryParse(key.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) || index >= parameters.Count)
                throw new ArgumentException($"{GetType().Name}: optimiser state key '{key}' names no parameter (expected '<index>.<slot>' with index below {parameters.Count})", nameof(state));
            var p = parameters[index];
            string slot = key[(dot + 1)..];
            bool parameterShaped = Shapes.Equal(value.Shape, p.Shape) || value.Rank == 0;
            if (!parameterShaped)
                throw new TensorShapeException($"{GetType().Name}: optimiser state '{key}' expected shape {Shapes.Format(p.Shape)} (its parameter's), found {Shapes.Format(value.Shape)}", nameof(state));
            loaded.Add((p, slot, value));
        }
        _state.Clear();
        using (GradMode.NoGrad())
            foreach (var (p, slot, value) in loaded)
                State(p, slot, value.Shape.ToArray()).CopyFrom(value);
        StepCount = stepCount;
    }

    protected bool HasState(Tensor parameter, string name) => _state.TryGetValue(parameter, out var slots) && slots.ContainsKey(name);

    private readonly Dictionary<Tensor, Dictionary<string, Tensor>> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>The dense float span of a parameter-shaped tensor (parameters and state are allocated dense).</summary>
    protected static Span<float> Data(Tensor t, string what) =>
        t.IsContiguous ? t.AsSpan<float>() : throw new InvalidOperationException($"optimiser: {what} of shape {Shapes.Format(t.Shape)} is a strided view; parameters must be dense tensors");
}
