using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Objectives;

/// <summary>
/// The settings of one asymmetric multi-label loss (Ridnik et al., ICCV 2021), with a weight on
/// the positive term (HVP-MTL's "weighted ASL", Eq. 1):
/// L+ = η·(1 − p)^γ+·log p,  L− = p_m^γ−·log(1 − p_m),  p_m = max(p − margin, 0),
/// loss = −Σ over batch and classes of [y·L+ + (1 − y)·L−].
/// Plain binary cross-entropy is the special case η = 1, γ+ = γ− = 0, margin 0.
/// </summary>
/// <param name="PositiveWeight">η, the weight of the positive term.</param>
/// <param name="GammaPositive">γ+, focusing exponent of the positive term.</param>
/// <param name="GammaNegative">γ−, focusing exponent of the negative term.</param>
/// <param name="ProbabilityMargin">The probability shift of the negatives ("clip" in ASL's code): easy negatives with p ≤ margin give no loss.</param>
public sealed record AsymmetricLossSettings(float PositiveWeight, float GammaPositive, float GammaNegative, float ProbabilityMargin)
{
    /// <summary>HVP-MTL's weighted ASL as printed: η = 10, γ+ = 4, γ− = 1, no margin (the paper names none).</summary>
    public static AsymmetricLossSettings Weighted { get; } = new(10f, 4f, 1f, 0f);

    /// <summary>The original ASL: γ+ = 0, γ− = 4, probability margin 0.05, no positive weight.</summary>
    public static AsymmetricLossSettings Original { get; } = new(1f, 0f, 4f, 0.05f);

    /// <summary>Binary cross-entropy (summed, like the others).</summary>
    public static AsymmetricLossSettings BinaryCrossEntropy { get; } = new(1f, 0f, 0f, 0f);

    /// <summary>Settings by recipe name: "weighted-asl", "asl" or "bce".</summary>
    public static AsymmetricLossSettings Named(string name, string field) => name switch
    {
        "weighted-asl" => Weighted,
        "asl" => Original,
        "bce" => BinaryCrossEntropy,
        _ => throw new ArgumentException($"{field}: expected \"weighted-asl\" (η = 10, γ+ = 4, γ− = 1), \"asl\" (γ+ = 0, γ− = 4, margin 0.05) or \"bce\", found \"{name}\"", field),
    };

    /// <summary>Checks the settings; the message names <paramref name="field"/>.</summary>
    public void Validate(string field)
    {
        if (!(PositiveWeight > 0f) || !float.IsFinite(PositiveWeight))
            throw new ArgumentOutOfRangeException(field, PositiveWeight, $"{field}: positive weight η expected finite and > 0, found {PositiveWeight}");
        if (!(GammaPositive >= 0f) || !(GammaNegative >= 0f) || !float.IsFinite(GammaPositive) || !float.IsFinite(GammaNegative))
            throw new ArgumentOutOfRangeException(field, $"{field}: focusing exponents γ+, γ− expected finite and ≥ 0, found {GammaPositive}, {GammaNegative}");
        if (!(ProbabilityMargin >= 0f && ProbabilityMargin < 1f))
            throw new ArgumentOutOfRangeException(field, ProbabilityMargin, $"{field}: probability margin expected in [0, 1), found {ProbabilityMargin}");
    }
}

/// <summary>The (weighted) asymmetric multi-label loss; see <see cref="AsymmetricLossSettings"/>.</summary>
public static class AsymmetricLoss
{
    /// <summary>log is taken of probabilities clamped at this floor (ASL's eps).</summary>
    public const float Epsilon = 1e-8f;

    /// <summary>
    /// Loss of <paramref name="logits"/> [B, C] against 0/1 <paramref name="targets"/> [B, C]:
    /// summed over batch and classes, as ASL's reference code does (so a loss weight such as
    /// HVP-MTL's α1 = 0.001 multiplies a sum). The focusing factors carry gradient (ASL's default).
    /// </summary>
    public static Tensor Compute(Tensor logits, Tensor targets, AsymmetricLossSettings settings)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(settings);
        if (logits.Rank != 2 || targets.Rank != 2 || logits.Size(0) != targets.Size(0) || logits.Size(1) != targets.Size(1))
            throw new TensorShapeException($"asymmetric loss: 'logits' and 'targets' expected [batch, classes] of one shape, found {Shapes.Format(logits.Shape)} and {Shapes.Format(targets.Shape)}", nameof(targets));
        var probability = Functional.Sigmoid(logits);
        // Positive term: η (1 − p)^γ+ log p.
        var positive = Functional.Log(Functional.Clamp(probability, Epsilon));
        if (settings.GammaPositive > 0f) positive = positive * Functional.Pow(1f - probability, settings.GammaPositive);
        if (settings.PositiveWeight != 1f) positive = positive * settings.PositiveWeight;
        // Negative term on the shifted probability p_m: 1 − p_m = min(1 − p + margin, 1).
        var negativeComplement = 1f - probability;
        if (settings.ProbabilityMargin > 0f) negativeComplement = Functional.Clamp(negativeComplement + settings.ProbabilityMargin, max: 1f);
        var negative = Functional.Log(Functional.Clamp(negativeComplement, Epsilon));
        if (settings.GammaNegative > 0f) negative = negative * Functional.Pow(1f - negativeComplement, settings.GammaNegative);
        var perEntry = targets * positive + (1f - targets) * negative;
        return -Functional.Sum(perEntry);
    }
}
