using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Training;

/// <summary>
/// Reverse mode for one virtual device: d(loss)/d(leaf) for every leaf the loss depends on,
/// returned in a map instead of accumulated into <see cref="Tensor.Grad"/>. Devices share the
/// model's parameters and run their backward at the same time (SyncBN's backward is an
/// all-reduce too), so they must not write the shared leaves' Grad; the map's keys are also
/// exactly the parameters this device used, which SIMT's per-parameter average needs.
/// The walk is the same as <see cref="AutogradEngine.Backward"/>'s.
/// </summary>
internal static class DeviceGradients
{
    public static Dictionary<Tensor, Tensor> Compute(Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        var result = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        if (!loss.RequiresGrad)
            return result;
        if (loss.Numel != 1)
            throw new TensorShapeException($"SIMT: a task loss must be a scalar, found shape {Shapes.Format(loss.Shape)}");
        var order = TopologicalOrder(loss);
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [loss] = Tensor.Full(loss.Shape, 1f) };
        using var noGrad = GradMode.NoGrad();
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var tensor = order[i];
            if (!grads.Remove(tensor, out var grad))
                continue;
            var node = tensor.GradFn;
            if (node is null)
            {
                result[tensor] = grad;
                continue;
            }
            var inputGrads = node.BackwardRule(grad);
            for (int k = 0; k < inputGrads.Length; k++)
            {
                var input = node.Inputs[k];
                var inputGrad = inputGrads[k];
                if (inputGrad is null || !input.RequiresGrad)
                    continue;
                grads[input] = grads.TryGetValue(input, out var existing) ? Functional.Add(existing, inputGrad) : inputGrad;
            }
        }
        return result;
    }

    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { root };
        var stack = new Stack<(Tensor Tensor, int NextInput)>();
        stack.Push((root, 0));
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
