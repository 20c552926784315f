using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Nn;

/// <summary>
/// Base of every layer and model, in PyTorch's concepts with .NET casing. Child modules and
/// trainable tensors (leaves that require grad) held in fields or auto-properties, and lists or
/// arrays of them, are registered automatically, in declaration order, the first time the module
/// is asked for its parameters, children or state (as PyTorch's attribute assignment does); the
/// name is the field's ("_fc1" and "Fc1" both give "fc1"). Explicit registration
/// (<see cref="RegisterParameter"/>, <see cref="RegisterBuffer"/>, <see cref="RegisterModule{T}"/>)
/// stays for dynamic names and buffers and comes first; a field holding an object already
/// registered in this module's subtree is not registered twice. Mark a field
/// <see cref="UnregisteredAttribute"/> when it refers to a module this one must not own (a frozen
/// teacher, a sibling). Trainable tensors held in fields that cannot be registered automatically
/// (dictionaries) make <see cref="NamedParameters"/> throw instead of training silently.
/// </summary>
public abstract partial class Module
{
    private readonly List<(string Name, Tensor Tensor)> _parameters = new();
    private readonly List<(string Name, Tensor Tensor)> _buffers = new();
    private readonly List<(string Name, Module Module)> _children = new();

    /// <summary>True in training mode (dropout active, batch norm uses batch statistics).</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a parameter (made a leaf that requires grad) and returns it.</summary>
    protected Tensor RegisterParameter(string name, Tensor parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        ForgetAutoRegistered(parameter);
        CheckName(name);
        if (!parameter.IsLeaf)
            parameter = parameter.Detach();
        parameter.RequiresGrad = true;
        parameter.Name = name;
        _parameters.Add((name, parameter));
        return parameter;
    }

    /// <summary>Registers persistent state that is not trained (running statistics...).</summary>
    protected Tensor RegisterBuffer(string name, Tensor buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ForgetAutoRegistered(buffer);
        CheckName(name);
        _buffers.Add((name, buffer));
        return buffer;
    }

    /// <summary>Registers a child module under <paramref name="name"/> and returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        ForgetAutoRegistered(module);
        CheckName(name);
        _children.Add((name, module));
        return module;
    }

    /// <summary>Replaces a registered buffer's tensor (buffers that are reassigned rather than updated in place).</summary>
    protected void SetBuffer(string name, Tensor value)
    {
        int index = _buffers.FindIndex(b => b.Name == name);
        if (index < 0)
            throw new ArgumentException($"{GetType().Name}: no buffer named '{name}'", nameof(name));
        _buffers[index] = (name, value);
    }

    /// <summary>Direct children with their names, in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        RegisterFields();
        return _children.ToList();
    }

    /// <summary>Direct children in registration order.</summary>
    public IEnumerable<Module> Children() => NamedChildren().Select(c => c.Module);

    /// <summary>This module and every descendant, with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        RegisterFields();
        yield return (prefix, this);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedModules(Join(prefix, name)))
                yield return item;
    }

    /// <summary>
    /// Every parameter of this module and its descendants with dotted names, in registration
    /// order. Throws when a field holds trainable tensors that are not registered (see the class
    /// remarks), so that an optimiser never silently leaves part of a model untrained.
    /// </summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        RegisterFields();
        ThrowOnUnregisteredTrainables();
        return EnumerateParameters(prefix);
    }

    private IEnumerable<(string Name, Tensor Parameter)> EnumerateParameters(string prefix)
    {
        RegisterFields();
        foreach (var (name, p) in _parameters) yield return (Join(prefix, name), p);
        foreach (var (name, child) in _children)
            foreach (var item in child.EnumerateParameters(Join(prefix, name)))
                yield return item;
    }

    /// <summary>Every parameter once (a module shared by two parents is listed once, as in PyTorch).</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>();

    /// <summary>Every buffer of this module and its descendants with dotted names.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        RegisterFields();
        foreach (var (name, b) in _buffers) yield return (Join(prefix, name), b);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedBuffers(Join(prefix, name)))
                yield return item;
    }

    /// <summary>Sets training mode on this module and every descendant.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var (_, module) in NamedModules())
            module.Training = mode;
        return this;
    }

    public Module Eval() => Train(false);

    /// <summary>
    /// Clears every parameter's gradient. The old gradient tensors are disposed, so their memory
    /// serves the next backward (fresh pages are slow to fault in); Clone a gradient you keep.
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
    }

    /// <summary>
    /// Moves parameters and buffers to <paramref name="device"/> in place: the parameter objects
    /// stay the same (optimisers and references keep working), their memory moves. Gradients are
    /// dropped. Opening <c>cuda</c> without a usable GPU throws, naming why; nothing falls back silently.
    /// </summary>
    public Module To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        using (GradMode.NoGrad())
        {
            foreach (var tensor in Parameters().Concat(NamedBuffers().Select(b => b.Buffer)))
            {
                if (tensor.Device == device)
                    continue;
                using var detached = tensor.Detach();
                using var moved = detached.To(device);
                tensor.ReplaceData(moved);
                tensor.Grad = null;
            }
        }
        return this;
    }

    /// <summary>Parameters and buffers by dotted name (the tensors themselves, not copies).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in NamedParameters()) state[name] = p;
        foreach (var (name, b) in NamedBuffers()) state[name] = b;
        return state;
    }

    /// <summary>
    /// Copies matching entries into this module's tensors. Returns the keys the module has but the
    /// dict lacks (missing) and the dict's keys the module does not have (unexpected); with
    /// <paramref name="strict"/> either list being non-empty is an error. A shape mismatch is always an error.
    /// </summary>
    public (IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected) LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var own = StateDict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
            throw new ArgumentException($"LoadStateDict: keys do not match {GetType().Name}: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]; pass strict: false to load the overlap", nameof(state));
        foreach (var (key, target) in own)
        {
            if (!state.TryGetValue(key, out var source)) continue;
            if (!Shapes.Equal(source.Shape, target.Shape))
                throw new TensorShapeException($"LoadStateDict: '{key}' expected shape {Shapes.Format(target.Shape)}, found {Shapes.Format(source.Shape)}", nameof(state));
            if (source.DType != target.DType)
                throw new TensorDTypeException($"LoadStateDict: '{key}' expected {target.DType.Name()}, found {source.DType.Name()}", nameof(state));
            using (GradMode.NoGrad())
                target.CopyFrom(source);
        }
        return (missing, unexpected);
    }

    /// <summary>Parameter count (elements).</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Numel);

    private void CheckName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains('.', StringComparison.Ordinal))
            throw new ArgumentException($"{GetType().Name}: names must be non-empty and contain no '.', found '{name}'", nameof(name));
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _children.Any(c => c.Name == name))
            throw new ArgumentException($"{GetType().Name}: '{name}' is already registered", nameof(name));
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;
}

/// <summary>A module mapping one tensor to one tensor (most layers).</summary>
public abstract class Layer : Module
{
    public abstract Tensor Forward(Tensor input);
}
