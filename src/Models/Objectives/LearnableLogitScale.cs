using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Models.Nn;

namespace Tessera.Models.Objectives;

/// <summary>
/// CLIP's learnable temperature: a parameter <c>log_scale</c> = ln(1 / τ₀) (τ₀ = 0.07 by default),
/// used as exp(log_scale) with the scale clamped at <see cref="MaxScale"/> (CLIP clamps the logit
/// scale at 100 so training cannot sharpen the softmax without bound). INTERN trains it at 0.1×
/// the learning rate: put <see cref="LogScale"/> in its own parameter group.
/// </summary>
public sealed class LearnableLogitScale : Module
{
    public LearnableLogitScale(float initialTemperature = 0.07f, float maxScale = 100f)
    {
        if (!(initialTemperature > 0f) || !float.IsFinite(initialTemperature))
            throw new ArgumentOutOfRangeException(nameof(initialTemperature), initialTemperature, $"LearnableLogitScale: 'initialTemperature' expected a finite value > 0, found {initialTemperature}");
        if (!(maxScale >= 1f / initialTemperature))
            throw new ArgumentOutOfRangeException(nameof(maxScale), maxScale, $"LearnableLogitScale: 'maxScale' expected at least 1 / initialTemperature = {1f / initialTemperature}, found {maxScale}");
        MaxScale = maxScale;
        LogScale = RegisterParameter("log_scale", Tensor.Scalar(MathF.Log(1f / initialTemperature)));
    }

    /// <summary>The parameter ln(1/τ) (a 0-dim tensor).</summary>
    public Tensor LogScale { get; }

    public float MaxScale { get; }

    /// <summary>exp(log_scale) clamped at <see cref="MaxScale"/>: the factor on the cosine similarities (0-dim, differentiable below the clamp).</summary>
    public Tensor Scale() => ScaleOf(LogScale, MaxScale);

    /// <summary>exp(min(logScale, ln maxScale)): the rule <see cref="Scale"/> applies (CLIP clamps the parameter, so above the cap it gets no gradient).</summary>
    public static Tensor ScaleOf(Tensor logScale, float maxScale = 100f)
    {
        ArgumentNullException.ThrowIfNull(logScale);
        return logScale.Clamp(max: MathF.Log(maxScale)).Exp();
    }

    /// <summary>The current temperature 1 / scale (for logs).</summary>
    public float Temperature => 1f / MathF.Min(MathF.Exp(LogScale.Item()), MaxScale);
}
