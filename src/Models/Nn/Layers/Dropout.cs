using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>torch.nn.Dropout: active in training only; masks from <see cref="Generator"/> (the default stream when null).</summary>
public sealed class Dropout : Layer
{
    public Dropout(float p = 0.5f, Generator? generator = null)
    {
        if (!(p >= 0f && p <= 1f))
            throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: expected a probability in [0, 1]");
        P = p;
        Generator = generator;
    }

    public float P { get; }

    public Generator? Generator { get; set; }

    public override Tensor Forward(Tensor input) => Functional.Dropout(input, P, Training, Generator);
}

/// <summary>Stochastic depth (timm DropPath): drops whole samples of a residual branch in training only.</summary>
public sealed class DropPath : Layer
{
    public DropPath(float p = 0f, Generator? generator = null)
    {
        if (!(p >= 0f && p <= 1f))
            throw new ArgumentOutOfRangeException(nameof(p), p, "DropPath: expected a probability in [0, 1]");
        P = p;
        Generator = generator;
    }

    public float P { get; }

    public Generator? Generator { get; set; }

    public override Tensor Forward(Tensor input) => Functional.DropPath(input, P, Training, Generator);
}
