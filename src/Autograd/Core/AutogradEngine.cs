using System.Diagnostics;
using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>Reverse-mode differentiation over the recorded graph.</summary>
public static class AutogradEngine
{
    /// <summary>
    /// Records <paramref name="output"/> as produced by op <paramref name="name"/> from
    /// <paramref name="inputs"/> when grad mode is on and some input requires grad. Returns output.
    /// </summary>
    public static Tensor Record(Tensor output, string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        OpProfiler.OnOp(name);
        if (!GradMode.IsEnabled || output.DType != DType.Float32)
            return output;
        bool any = false;
        foreach (var input in inputs)
            any |= input.RequiresGrad;
        if (!any)
            return output;
        output.GradFn = new Node(name, inputs, backward);
        output.RequiresGrad = true;
        return output;
    }

    /// <summary>
    /// Accumulates d(root)/d(leaf) into every leaf's <see cref="Tensor.Grad"/> (adding to what is
    /// there, as PyTorch does). <paramref name="gradient"/> defaults to 1 for a one-element root.
    /// The graph is kept, so calling Backward twice accumulates twice — unless
    /// <paramref name="freeActivations"/> is set: then every non-leaf tensor of the graph except the
    /// root (the activations a training step keeps for its backward pass) is disposed as soon as the
    /// sweep no longer needs it, so its memory is reused by the gradients that follow instead of
    /// living until the step's <see cref="TensorScope"/> ends (PyTorch frees saved tensors the same
    /// way). The graph cannot be walked again, and reading such a tensor afterwards throws
    /// <see cref="ObjectDisposedException"/>: read losses and metrics before calling it. Tensors with
    /// <see cref="Tensor.RetainGrad"/> are kept.
    /// </summary>
    public static void Backward(Tensor root, Tensor? gradient = null, bool freeActivations = false) =>
        Walk(root, gradient, (leaf, grad) =>
        {
            AccumulateInto(leaf, grad);
            return false;
        }, freeActivations);

    /// <summary>
    /// d(root)/d(leaf) for every leaf the root depends on, returned in a map instead of written to
    /// <see cref="Tensor.Grad"/> (so several threads may differentiate through shared parameters at
    /// once, as the SIMT trainer's virtual devices do). Non-leaf RetainGrad flags are honoured.
    /// </summary>
    /// <remarks><paramref name="freeActivations"/>: as for <see cref="Backward"/>.</remarks>
    public static Dictionary<Tensor, Tensor> LeafGradients(Tensor root, Tensor? gradient = null, bool freeActivations = false)
    {
        var result = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        Walk(root, gradient, (leaf, grad) =>
        {
            result[leaf] = grad;
            return true;
        }, freeActivations);
        return result;
    }

    /// <summary>
    /// The reverse sweep shared by <see cref="Backward"/> and <see cref="LeafGradients"/>: hands every
    /// leaf's total gradient to <paramref name="leafSink"/>, which returns whether it keeps that tensor.
    /// </summary>
    private static void Walk(Tensor root, Tensor? gradient, Func<Tensor, Tensor, bool> leafSink, bool freeActivations)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!root.RequiresGrad)
            throw new ArgumentException("Backward: expected a tensor that requires grad, found one that does not; set RequiresGrad on the leaves you want gradients for before computing it (and not inside GradMode.NoGrad())", nameof(root));
        if (gradient is null)
        {
            if (root.Numel != 1)
                throw new TensorShapeException($"Backward: a gradient argument is required for a non-scalar root of shape {Shapes.Format(root.Shape)}; pass one of the same shape or reduce the root first", nameof(gradient));
            gradient = Tensor.Full(root.Shape, 1f, root.Device);
        }
        else if (!Shapes.Equal(gradient.Shape, root.Shape))
        {
            throw new TensorShapeException($"Backward: 'gradient' expected shape {Shapes.Format(root.Shape)}, found {Shapes.Format(gradient.Shape)}", nameof(gradient));
        }

        var order = TopologicalOrder(root);
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = gradient };
        var pending = new GradientRefs(gradient);
        using var noGrad = GradMode.NoGrad();
        var (profile, sweepStart) = OpProfiler.BeginBackward();
        long chargedTicks = 0;
        try
        {
            Sweep();
        }
        finally
        {
            OpProfiler.EndBackward(profile, sweepStart, chargedTicks);
        }

        // Profiling only (OpProfiler): the clock is read only while a profile is active at depth 1.
        long Clock() => profile is { BackwardDepth: 1 } ? Stopwatch.GetTimestamp() : 0;
        void ChargeSince(string name, long start)
        {
            if (profile is not { BackwardDepth: 1 }) return;
            long spent = Stopwatch.GetTimestamp() - start;
            chargedTicks += spent;
            profile.Charge(name, "backward", spent);
        }

        void Sweep()
        {
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var tensor = order[i];
                if (!grads.Remove(tensor, out var grad))
                    continue;
                pending.Release(grad);
                var node = tensor.GradFn;
                if (node is null)
                {
                    long leafStart = Clock();
                    if (leafSink(tensor, grad)) pending.Hold(grad);
                    else pending.DisposeIfUnused(grad);
                    ChargeSince("(leaf gradients stored)", leafStart);
                    continue;
                }
                if (tensor.RetainsGrad)
                    AccumulateInto(tensor, grad);
                Tensor?[] inputGrads;
                // Temporaries a rule creates die with the rule; only the gradients it returns move on.
                long ruleStart = Clock();
                using (var ruleScope = new TensorScope())
                {
                    inputGrads = node.BackwardRule(grad);
                    foreach (var inputGrad in inputGrads)
                        if (inputGrad is not null) ruleScope.MoveToOuter(inputGrad);
                }
                ChargeSince(node.Name, ruleStart);
                if (inputGrads.Length != node.Inputs.Count)
                    throw new InvalidOperationException($"{node.Name} backward returned {inputGrads.Length} gradients for {node.Inputs.Count} inputs");
                var spent = new List<Tensor> { grad };
                for (int k = 0; k < inputGrads.Length; k++)
                {
                    var input = node.Inputs[k];
                    var inputGrad = inputGrads[k];
                    if (inputGrad is null || !input.RequiresGrad)
                    {
                        if (inputGrad is not null) spent.Add(inputGrad);
                        continue;
                    }
                    if (!Shapes.Equal(inputGrad.Shape, input.Shape))
                        throw new InvalidOperationException($"{node.Name} backward produced a gradient of shape {Shapes.Format(inputGrad.Shape)} for input {k} of shape {Shapes.Format(input.Shape)}");
                    if (grads.TryGetValue(input, out var existing))
                    {
                        long addStart = Clock();
                        grads[input] = Functional.Add(existing, inputGrad);
                        ChargeSince("(gradient accumulation)", addStart);
                        pending.Release(existing);
                        spent.Add(existing);
                        spent.Add(inputGrad);
                    }
                    else
                    {
                        grads[input] = inputGrad;
                    }
                    pending.Hold(grads[input]);
                }
                // Gradients nobody holds any more go back to the memory pool now, not at the end of the step.
                foreach (var tensorGrad in spent)
                    pending.DisposeIfUnused(tensorGrad);
                // Every consumer of this tensor came earlier in the sweep and its own rule has run: no
                // rule needs it any more (its inputs' rules capture their own inputs, which come later).
                if (freeActivations && !ReferenceEquals(tensor, root) && !tensor.RetainsGrad)
                {
                    long freeStart = Clock();
                    tensor.GradFn = null;
                    tensor.Dispose();
                    ChargeSince("(activations freed)", freeStart);
                }
            }
        }
    }

    /// <summary>
    /// Counts how many pending gradient entries hold each gradient tensor (rules may return the same
    /// tensor for several inputs), so a gradient is disposed only once nothing refers to it; the
    /// caller's own gradient argument is never disposed.
    /// </summary>
    private sealed class GradientRefs(Tensor callerGradient)
    {
        private readonly Dictionary<Tensor, int> _holders = new(ReferenceEqualityComparer.Instance) { [callerGradient] = 1 };

        public void Hold(Tensor t) => _holders[t] = _holders.GetValueOrDefault(t) + 1;

        public void Release(Tensor t)
        {
            if (_holders.TryGetValue(t, out int count))
            {
                if (count <= 1) _holders.Remove(t);
                else _holders[t] = count - 1;
            }
        }

        public void DisposeIfUnused(Tensor t)
        {
            if (!ReferenceEquals(t, callerGradient) && !_holders.ContainsKey(t))
                t.Dispose();
        }
    }

    /// <summary>
    /// Gradients of <paramref name="output"/> with respect to <paramref name="inputs"/>, returned
    /// instead of accumulated (inputs' Grad fields are left alone).
    /// </summary>
    public static Tensor?[] Grad(Tensor output, IReadOnlyList<Tensor> inputs, Tensor? gradient = null)
    {
        var saved = inputs.Select(t => (t.Grad, t)).ToArray();
        foreach (var t in inputs)
        {
            t.Grad = null;
            if (!t.IsLeaf) t.RetainGrad();
        }
        Backward(output, gradient);
        var result = inputs.Select(t => t.Grad).ToArray();
        foreach (var (grad, t) in saved)
            t.Grad = grad;
        return result;
    }

    private static void AccumulateInto(Tensor tensor, Tensor grad)
    {
        // A leaf's gradient outlives the step's TensorScope (the optimiser reads it after).
        if (tensor.Grad is null)
            using (TensorScope.Unscoped())
                tensor.Grad = Functional.Clone(grad);
        else
            tensor.Grad.AddInPlace(grad);
    }

    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Tensor, int NextInput)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (tensor, next) = stack.Pop();
            var inputs = tensor.GradFn?.Inputs;
            if (inputs is not null && next < inputs.Count)
            {
                stack.Push((tensor, next + 1));
                var input = inputs[next];
                if (input.RequiresGrad && visited.Add(input))
                    stack.Push((input, 0));
                continue;
            }
            order.Add(tensor);
        }
        return order;
    }
}
