using Tessera.Autograd;
using Tessera.Engine;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Objectives;

/// <summary>
/// InfoNCE between two sets of L2-normalised embeddings whose rows pair up (image i with caption
/// i; view 1 of image i with view 2 of image i): CLIP's symmetric cross-entropy over
/// scale · a · bᵀ with the diagonal as the targets, averaged over both directions.
/// </summary>
public static class ContrastiveLoss
{
    /// <summary>
    /// a, b: [B, D] (normalise them first: <see cref="F.Normalize"/>); logitScale: a 0-dim or
    /// one-element tensor (<see cref="LearnableLogitScale.Scale"/>, or a constant 1/τ).
    /// Returns (CE(s·a·bᵀ, diag) + CE(s·b·aᵀ, diag)) / 2.
    /// </summary>
    public static Tensor InfoNce(Tensor a, Tensor b, Tensor logitScale)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(logitScale);
        if (a.Rank != 2 || b.Rank != 2 || a.Size(0) != b.Size(0) || a.Size(1) != b.Size(1))
            throw new TensorShapeException($"InfoNce: expected two [B, D] embeddings of one shape, found {Shapes.Format(a.Shape)} and {Shapes.Format(b.Shape)}", nameof(b));
        if (a.Size(0) < 2)
            throw new ArgumentException($"InfoNce: expected a batch of at least 2 pairs (each row's negatives are the other rows), found {a.Size(0)}", nameof(a));
        if (logitScale.Numel != 1)
            throw new TensorShapeException($"InfoNce: 'logitScale' expected one element, found shape {Shapes.Format(logitScale.Shape)}", nameof(logitScale));
        var logits = a.Matmul(b.Transpose(0, 1)) * logitScale.Reshape();
        var targets = Diagonal(a.Size(0));
        return (F.CrossEntropy(logits, targets) + F.CrossEntropy(logits.Transpose(0, 1), targets)) * 0.5f;
    }

    /// <summary>
    /// INTERN's multi-view image-text term: the mean of <see cref="InfoNce"/> over every
    /// (image view, text view) pair (two image views × two text views = four pairs).
    /// </summary>
    public static Tensor MultiViewInfoNce(IReadOnlyList<Tensor> imageViews, IReadOnlyList<Tensor> textViews, Tensor logitScale)
    {
        ArgumentNullException.ThrowIfNull(imageViews);
        ArgumentNullException.ThrowIfNull(textViews);
        if (imageViews.Count == 0 || textViews.Count == 0)
            throw new ArgumentException($"MultiViewInfoNce: expected at least one image view and one text view, found {imageViews.Count} and {textViews.Count}");
        Tensor? total = null;
        foreach (var image in imageViews)
            foreach (var text in textViews)
            {
                var term = InfoNce(image, text, logitScale);
                total = total is null ? term : total + term;
            }
        return total! * (1f / (imageViews.Count * textViews.Count));
    }

    /// <summary>0, 1, ..., n − 1 as int64 class targets.</summary>
    internal static Tensor Diagonal(int count)
    {
        var ids = new long[count];
        for (int i = 0; i < count; i++) ids[i] = i;
        return Tensor.FromArray(ids, count);
    }
}
