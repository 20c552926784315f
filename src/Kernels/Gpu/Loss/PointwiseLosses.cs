namespace Tessera.Kernels.Gpu;

/// <summary>
/// A loss of one input and one target element, with both partial derivatives; the struct's
/// fields (beta) become kernel parameters. The formulas and their derivatives at the edges
/// (|d| = 0, |d| = beta, target = 0) are those of the composite CPU ops in Functional.
/// </summary>
public interface IPointwiseLoss
{
    /// <summary>The loss of one element.</summary>
    float Value(float input, float target);

    /// <summary>∂loss/∂input.</summary>
    float GradInput(float input, float target);

    /// <summary>∂loss/∂target.</summary>
    float GradTarget(float input, float target);
}

/// <summary>mse_loss: (x - t)².</summary>
public readonly struct SquaredError : IPointwiseLoss
{
    public float Value(float input, float target)
    {
        float d = input - target;
        return d * d;
    }

    public float GradInput(float input, float target) => 2f * (input - target);

    public float GradTarget(float input, float target) => -2f * (input - target);
}

/// <summary>l1_loss: |x - t| (sign(0) = 0 in the gradient).</summary>
public readonly struct AbsoluteError : IPointwiseLoss
{
    public float Value(float input, float target) => MathF.Abs(input - target);

    public float GradInput(float input, float target) => Sign(input - target);

    public float GradTarget(float input, float target) => -Sign(input - target);

    internal static float Sign(float d) => d > 0f ? 1f : d < 0f ? -1f : 0f;
}

/// <summary>smooth_l1_loss with beta &gt; 0: 0.5 d² / beta where |d| &lt; beta, else |d| - 0.5 beta.</summary>
public readonly struct SmoothAbsoluteError(float beta) : IPointwiseLoss
{
    private readonly float _beta = beta;

    public float Value(float input, float target)
    {
        float d = input - target;
        float magnitude = MathF.Abs(d);
        return magnitude < _beta ? d * d * (0.5f / _beta) : magnitude - 0.5f * _beta;
    }

    public float GradInput(float input, float target)
    {
        float d = input - target;
        return MathF.Abs(d) < _beta ? 2f * d * (0.5f / _beta) : AbsoluteError.Sign(d);
    }

    public float GradTarget(float input, float target) => -GradInput(input, target);
}

/// <summary>
/// binary_cross_entropy_with_logits without weights, in the stable form
/// (1 - t) x + log(1 + exp(-|x|)) + max(-x, 0); ∂/∂x = sigmoid(x) - t, ∂/∂t = -x.
/// </summary>
public readonly struct LogitBinaryCrossEntropy : IPointwiseLoss
{
    public float Value(float input, float target) =>
        (1f - target) * input + (MathF.Log(1f + MathF.Exp(-MathF.Abs(input))) + MathF.Max(-input, 0f));

    public float GradInput(float input, float target)
    {
        // sigmoid(x) from exp(-|x|), which cannot overflow
        float e = MathF.Exp(-MathF.Abs(input));
        float sigmoid = input >= 0f ? 1f / (1f + e) : e / (1f + e);
        return sigmoid - target;
    }

    public float GradTarget(float input, float target) => -input;
}

/// <summary>kl_div with probability targets: t (log t - x), and -t x where t ≤ 0.</summary>
public readonly struct KlDivergence : IPointwiseLoss
{
    public float Value(float input, float target) => (target > 0f ? target * MathF.Log(target) : 0f) - target * input;

    public float GradInput(float input, float target) => -target;

    public float GradTarget(float input, float target) => target > 0f ? MathF.Log(target) + 1f - input : -input;
}

/// <summary>kl_div with log-probability targets: exp(t) (t - x).</summary>
public readonly struct LogKlDivergence : IPointwiseLoss
{
    public float Value(float input, float target) => MathF.Exp(target) * (target - input);

    public float GradInput(float input, float target) => -MathF.Exp(target);

    public float GradTarget(float input, float target)
    {
        float e = MathF.Exp(target);
        return e * (target - input) + e;
    }
}
