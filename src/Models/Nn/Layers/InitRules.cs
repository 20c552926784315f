using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>
/// The torch.nn.init rules the layers of this folder need beyond <see cref="Init"/>: constants,
/// truncated normal (timm's ViT/Swin init) and kaiming_uniform with a chosen slope.
/// </summary>
public static class InitRules
{
    /// <summary>A tensor of one value (BatchNorm weight = 1, biases = 0...).</summary>
    public static Tensor Constant(int[] shape, float value) => Tensor.Full(shape, value);

    /// <summary>
    /// N(0, std²) truncated to [low, high] (absolute bounds, as torch.nn.init.trunc_normal_); values
    /// outside are redrawn, so the distribution is the truncated one, not a clipped one.
    /// </summary>
    public static Tensor TruncatedNormal(int[] shape, float std, Generator generator, float low = -2f, float high = 2f)
    {
        ArgumentNullException.ThrowIfNull(generator);
        if (!(low < high))
            throw new ArgumentException($"TruncatedNormal: expected low < high, found [{low}, {high}]", nameof(low));
        var t = Tensor.Empty(shape);
        var span = t.AsSpan<float>();
        generator.Normal(span, 0f, std);
        var one = new float[1];
        for (int i = 0; i < span.Length; i++)
        {
            // Redraw one value at a time; with std far below the bounds this almost never loops.
            while (span[i] < low || span[i] > high)
            {
                generator.Normal(one, 0f, std);
                span[i] = one[0];
            }
        }
        return t;
    }

    /// <summary>
    /// torch.nn.init.kaiming_uniform_(a): U(±gain·sqrt(3 / fanIn)) with gain = sqrt(2 / (1 + a²)).
    /// </summary>
    public static Tensor KaimingUniform(int[] shape, int fanIn, float a, Generator generator)
    {
        float gain = MathF.Sqrt(2f / (1f + a * a));
        float bound = gain * MathF.Sqrt(3f / Math.Max(fanIn, 1));
        return Init.Uniform(shape, -bound, bound, generator);
    }

    /// <summary>Overwrites a registered parameter's values (re-initialisation after construction).</summary>
    public static void Assign(Tensor parameter, Tensor values)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        using (GradMode.NoGrad())
            parameter.CopyFrom(values);
    }
}
