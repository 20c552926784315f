namespace Tessera.Autograd;

/// <summary>
/// Disposes, at the end of a block, every tensor created inside it on this thread, except those
/// handed to <see cref="MoveToOuter"/>. A training step wraps its forward and backward in one:
/// <code>
/// using (var scope = new TensorScope()) { var loss = ...; loss.Backward(); optimizer.Step(); }
/// </code>
/// Parameters and gradients created outside the scope are untouched. Scopes nest.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    [ThreadStatic] private static int _suspendedDepth;

    private readonly List<Tensor> _owned = new();
    private readonly TensorScope? _outer;
    private bool _disposed;

    public TensorScope()
    {
        _outer = _current;
        _current = this;
    }

    /// <summary>Tensors this scope will dispose.</summary>
    public int Count => _owned.Count;

    internal static void Register(Tensor tensor)
    {
        if (_suspendedDepth == 0)
            _current?._owned.Add(tensor);
    }

    /// <summary>
    /// Until disposed, tensors created on this thread belong to no scope: for state that must
    /// outlive the step it is created in (leaf gradients, optimiser buffers, running statistics).
    /// </summary>
    public static IDisposable Unscoped()
    {
        _suspendedDepth++;
        return new Resume();
    }

    private sealed class Resume : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _suspendedDepth--;
        }
    }

    /// <summary>Keeps <paramref name="tensor"/> alive past this scope (it moves to the enclosing scope, if any).</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        int index = _owned.FindLastIndex(t => ReferenceEquals(t, tensor));
        if (index >= 0)
        {
            _owned.RemoveAt(index);
            _outer?._owned.Add(tensor);
        }
        return tensor;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!ReferenceEquals(_current, this))
            throw new InvalidOperationException("TensorScope disposed out of order; scopes must be disposed innermost first (use 'using')");
        _current = _outer;
        foreach (var tensor in _owned)
            tensor.Dispose();
        _owned.Clear();
    }
}
