using Tessera.Autograd;

namespace Tessera.Models.Nn;

/// <summary>
/// torch.nn.LayerNorm over the trailing <c>normalizedShape</c> dims; weight (1) and
/// bias (0) of that shape when elementwise-affine.
/// </summary>
public sealed class LayerNorm : Layer
{
    public LayerNorm(int[] normalizedShape, float eps = 1e-5f, bool elementwiseAffine = true, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d < 1))
            throw new ArgumentException($"LayerNorm: 'normalizedShape' expected one or more positive sizes, found [{string.Join(", ", normalizedShape)}]", nameof(normalizedShape));
        NormalizedShape = [.. normalizedShape];
        Eps = eps;
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", InitRules.Constant(NormalizedShape, 1f));
            if (bias) Bias = RegisterParameter("bias", InitRules.Constant(NormalizedShape, 0f));
        }
    }

    public LayerNorm(int normalizedSize, float eps = 1e-5f, bool elementwiseAffine = true, bool bias = true)
        : this([normalizedSize], eps, elementwiseAffine, bias)
    {
    }

    public int[] NormalizedShape { get; }

    public float Eps { get; }

    public Tensor? Weight { get; }

    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor input) => Functional.LayerNorm(input, NormalizedShape, Weight, Bias, Eps);
}

/// <summary>torch.nn.GroupNorm: channels split into groups normalised per sample; weight/bias per channel.</summary>
public sealed class GroupNorm : Layer
{
    public GroupNorm(int numGroups, int numChannels, float eps = 1e-5f, bool affine = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numGroups, 1);
        if (numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: numChannels ({numChannels}) must be divisible by numGroups ({numGroups})", nameof(numGroups));
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", InitRules.Constant([numChannels], 1f));
            Bias = RegisterParameter("bias", InitRules.Constant([numChannels], 0f));
        }
    }

    public int NumGroups { get; }

    public int NumChannels { get; }

    public float Eps { get; }

    public Tensor? Weight { get; }

    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor input) => Functional.GroupNorm(input, NumGroups, Weight, Bias, Eps);
}
