namespace Tessera.Autograd;

/// <summary>What a custom function's forward leaves for its backward.</summary>
public sealed class FunctionContext
{
    private Tensor[] _saved = [];

    internal FunctionContext(bool[] needsInputGrad) => NeedsInputGrad = needsInputGrad;

    /// <summary>needsInputGrad[i]: whether input i wants a gradient (skip computing the others).</summary>
    public IReadOnlyList<bool> NeedsInputGrad { get; }

    public void SaveForBackward(params Tensor[] tensors) => _saved = tensors;

    public IReadOnlyList<Tensor> SavedTensors => _saved;

    /// <summary>Any non-tensor state the backward needs (sizes, flags...).</summary>
    public Dictionary<string, object> Values { get; } = new();
}

/// <summary>
/// A user-defined differentiable op, as torch.autograd.Function: Forward runs with grad
/// recording off and computes the output; Backward maps the output's gradient to one gradient
/// (or null) per input.
/// <code>
/// sealed class Square : CustomFunction {
///     protected override Tensor Forward(FunctionContext ctx, Tensor[] x) { ctx.SaveForBackward(x[0]); return x[0] * x[0]; }
///     protected override Tensor?[] Backward(FunctionContext ctx, Tensor g) => [g * ctx.SavedTensors[0] * 2f];
/// }
/// var y = new Square().Apply(x);
/// </code>
/// </summary>
public abstract class CustomFunction
{
    protected virtual string Name => GetType().Name;

    public Tensor Apply(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var context = new FunctionContext(inputs.Select(t => t.RequiresGrad).ToArray());
        Tensor output;
        using (GradMode.NoGrad())
            output = Forward(context, inputs);
        if (inputs.Any(t => ReferenceEquals(t, output)))
            output = output.Detach();
        return AutogradEngine.Record(output, Name, inputs, grad => Backward(context, grad));
    }

    protected abstract Tensor Forward(FunctionContext context, Tensor[] inputs);

    protected abstract Tensor?[] Backward(FunctionContext context, Tensor gradOutput);
}
