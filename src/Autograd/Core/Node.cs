namespace Tessera.Autograd;

/// <summary>
/// One recorded op of the autograd graph: its inputs and the rule that maps the gradient of its
/// output to gradients of its inputs (null where an input gets none). Rules return new tensors;
/// they never write into the gradient they receive.
/// </summary>
public sealed class Node
{
    internal Node(string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        Name = name;
        Inputs = inputs;
        BackwardRule = backward;
    }

    /// <summary>The op's name, used in error messages ("conv2d", "mul"...).</summary>
    public string Name { get; }

    public IReadOnlyList<Tensor> Inputs { get; }

    internal Func<Tensor, Tensor?[]> BackwardRule { get; }

    public override string ToString() => $"<{Name}Backward>";
}

/// <summary>Whether ops record the graph. Off inside <see cref="NoGrad"/> (evaluation, optimiser steps, backward rules).</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabledDepth;

    public static bool IsEnabled => _disabledDepth == 0;

    /// <summary><c>using (GradMode.NoGrad()) { ... }</c>: nothing inside records gradients.</summary>
    public static IDisposable NoGrad()
    {
        _disabledDepth++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _disabledDepth--;
        }
    }
}
