using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>Parameter initialisers (torch.nn.init), drawing from a Philox <see cref="Generator"/>.</summary>
public static class Init
{
    /// <summary>U(low, high).</summary>
    public static Tensor Uniform(int[] shape, float low, float high, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var t = Tensor.Empty(shape);
        generator.Uniform(t.AsSpan<float>(), low, high);
        return t;
    }

    /// <summary>N(0, std²).</summary>
    public static Tensor Normal(int[] shape, float std, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var t = Tensor.Empty(shape);
        generator.Normal(t.AsSpan<float>(), 0f, std);
        return t;
    }

    /// <summary>
    /// PyTorch's default for Linear and Conv weights: kaiming_uniform with a = sqrt(5), which is
    /// U(-1/sqrt(fanIn), 1/sqrt(fanIn)); biases use the same bound.
    /// </summary>
    public static Tensor DefaultWeight(int[] shape, int fanIn, Generator generator)
    {
        float bound = 1f / MathF.Sqrt(Math.Max(fanIn, 1));
        return Uniform(shape, -bound, bound, generator);
    }

    /// <summary>Kaiming (He) normal for ReLU layers: N(0, 2 / fanIn).</summary>
    public static Tensor KaimingNormal(int[] shape, int fanIn, Generator generator) => Normal(shape, MathF.Sqrt(2f / Math.Max(fanIn, 1)), generator);

    /// <summary>Xavier/Glorot uniform: U(±sqrt(6 / (fanIn + fanOut))).</summary>
    public static Tensor XavierUniform(int[] shape, int fanIn, int fanOut, Generator generator)
    {
        float bound = MathF.Sqrt(6f / Math.Max(fanIn + fanOut, 1));
        return Uniform(shape, -bound, bound, generator);
    }
}
