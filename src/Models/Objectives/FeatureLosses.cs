using Tessera.Autograd;
using Tessera.Engine;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Objectives;

/// <summary>Losses that compare predicted features with target features by direction.</summary>
public static class FeatureLosses
{
    /// <summary>
    /// EVA's masked feature loss: −cos(prediction, target) per token, averaged over the tokens
    /// where <paramref name="mask"/> is 1 (all tokens when it is null). prediction and target:
    /// [B, N, D] (or [N, D]); mask: [B, N] (or [N]) float 0/1. The target is used as given: detach
    /// it (a frozen teacher's output) before calling.
    /// </summary>
    public static Tensor NegativeCosine(Tensor prediction, Tensor target, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.Shape.SequenceEqual(target.Shape) || prediction.Rank < 2)
            throw new TensorShapeException($"NegativeCosine: expected prediction and target of one shape [..., D], found {Shapes.Format(prediction.Shape)} and {Shapes.Format(target.Shape)}", nameof(target));
        var cosine = F.CosineSimilarity(prediction, target, dim: -1); // [B, N]
        if (mask is null) return -cosine.Mean();
        if (!mask.Shape.SequenceEqual(cosine.Shape))
            throw new TensorShapeException($"NegativeCosine: 'mask' expected shape {Shapes.Format(cosine.Shape)} (one value per token), found {Shapes.Format(mask.Shape)}", nameof(mask));
        float count = mask.Sum().Item();
        if (!(count > 0f))
            throw new ArgumentException("NegativeCosine: the mask selects no token; expected at least one masked token", nameof(mask));
        return -(cosine * mask).Sum() * (1f / count);
    }

    /// <summary>
    /// BYOL's regression loss between the online prediction and the target projection:
    /// mean over rows of ‖p/‖p‖ − z/‖z‖‖² = 2 − 2·cos(p, z). Detach the target before calling.
    /// </summary>
    public static Tensor Byol(Tensor online, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(online);
        ArgumentNullException.ThrowIfNull(target);
        if (online.Rank != 2 || !online.Shape.SequenceEqual(target.Shape))
            throw new TensorShapeException($"Byol: expected online and target of one shape [N, D], found {Shapes.Format(online.Shape)} and {Shapes.Format(target.Shape)}", nameof(target));
        var cosine = F.CosineSimilarity(online, target, dim: 1);
        return (2f - cosine * 2f).Mean();
    }
}
