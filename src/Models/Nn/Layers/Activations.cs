using Tessera.Autograd;

namespace Tessera.Models.Nn;

/// <summary>torch.nn.ReLU: max(x, 0) elementwise, for <see cref="Sequential"/> and module fields.</summary>
public sealed class ReLU : Layer
{
    public override Tensor Forward(Tensor input) => Functional.Relu(input);
}

/// <summary>torch.nn.GELU (the exact, erf form).</summary>
public sealed class GELU : Layer
{
    public override Tensor Forward(Tensor input) => Functional.Gelu(input);
}

/// <summary>torch.nn.Flatten: merges dimensions <see cref="StartDim"/>.. into one (default: everything but the batch).</summary>
public sealed class Flatten(int startDim = 1) : Layer
{
    public int StartDim { get; } = startDim;

    public override Tensor Forward(Tensor input) => input.Flatten(StartDim);
}
