using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>
/// SimMIM's pieces (Xie et al. 2021): the learnable mask token ("mask_token" [1, 1, D],
/// trunc-normal 0.02) that replaces masked patch embeddings, and the light decoder: a 1×1
/// projection of every token to patch²·3 values and a pixel shuffle back to full resolution
/// (SimMIM's ViT decoder: Conv2d(D, p²·3, 1) + PixelShuffle(p)).
/// </summary>
public sealed class SimMimDecoder : Module
{
    public SimMimDecoder(int embedDim, int patchSize, Generator generator)
    {
        PatchSize = patchSize;
        MaskToken = RegisterParameter("mask_token", InitRules.TruncatedNormal([1, 1, embedDim], 0.02f, generator));
        Proj = RegisterModule("proj", new Linear(embedDim, patchSize * patchSize * 3, generator: generator));
    }

    public int PatchSize { get; }
    public Tensor MaskToken { get; }
    public Linear Proj { get; }

    /// <summary>Patch tokens [B, gh·gw, D] → reconstruction [B, 3, gh·p, gw·p].</summary>
    public Tensor Forward(Tensor tokens, int gridHeight, int gridWidth)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int batchSize = tokens.Size(0), p = PatchSize;
        var values = Proj.Forward(tokens); // [B, N, 3·p·p], channel index c·p² + i·p + j as PixelShuffle reads it
        return values.Reshape(batchSize, gridHeight, gridWidth, 3, p, p).Permute(0, 3, 1, 4, 2, 5).Reshape(batchSize, 3, gridHeight * p, gridWidth * p);
    }
}

/// <summary>SimMIM's loss and the pixel mask it needs.</summary>
public static class SimMimLoss
{
    /// <summary>A patch mask [B, N] (1 = masked) as a pixel mask [B, 1, gh·p, gw·p].</summary>
    public static Tensor PixelMask(Tensor patchMask, int gridHeight, int gridWidth, int patchSize)
    {
        ArgumentNullException.ThrowIfNull(patchMask);
        int batchSize = patchMask.Size(0);
        return patchMask.Reshape(batchSize, 1, gridHeight, 1, gridWidth, 1)
            .Expand(batchSize, 1, gridHeight, patchSize, gridWidth, patchSize)
            .Reshape(batchSize, 1, gridHeight * patchSize, gridWidth * patchSize);
    }

    /// <summary>
    /// Eq. 4: L1 between reconstruction and image over the masked pixels only, divided by the
    /// number of masked values (SimMIM: Σ|y − x|·M / (ΣM + 1e-5) / channels).
    /// </summary>
    public static Tensor MaskedL1(Tensor reconstruction, Tensor images, Tensor pixelMask)
    {
        ArgumentNullException.ThrowIfNull(reconstruction);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(pixelMask);
        if (!reconstruction.Shape.SequenceEqual(images.Shape))
            throw new TensorShapeException($"simmim: 'reconstruction' expected the images' shape {Shapes.Format(images.Shape)}, found {Shapes.Format(reconstruction.Shape)}", nameof(reconstruction));
        int channels = images.Size(1);
        var error = Functional.Abs(reconstruction - images) * pixelMask;
        return Functional.Sum(error) / (Functional.Sum(pixelMask) + 1e-5f) / channels;
    }
}

/// <summary>Momentum distillation (HVP-MTL Eqs. 5-6, after ALBEF).</summary>
public static class MomentumDistillation
{
    /// <summary>
    /// S(g, Q0) = softmax_c(cos(g, Q0_c) / τ) [B, C]. Eq. 5 prints the product Q0 ⊗ g and calls it
    /// a cosine similarity; KL needs distributions, so we take the softmax of the cosines with a
    /// temperature τ (ours; the paper names none).
    /// </summary>
    public static Tensor Similarities(Tensor embeddings, Tensor labelEmbeddings, float temperature)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(labelEmbeddings);
        var cosine = Functional.Normalize(embeddings, 1).Matmul(Functional.Normalize(labelEmbeddings, 1).T);
        return Functional.LogSoftmax(cosine / temperature, 1);
    }

    /// <summary>
    /// Eq. 6 on log-distributions [B, C]: (KL(P_s ‖ P_t) + KL(P_t ‖ P_s)) / 2, summed over classes,
    /// averaged over the batch. The teacher side is detached (stop-gradient).
    /// </summary>
    public static Tensor SymmetricKl(Tensor studentLog, Tensor teacherLog)
    {
        ArgumentNullException.ThrowIfNull(studentLog);
        ArgumentNullException.ThrowIfNull(teacherLog);
        var teacher = teacherLog.Detach();
        var difference = studentLog - teacher; // log P_s − log P_t
        var forward = Functional.Sum(Functional.Exp(studentLog) * difference, 1);
        var backward = Functional.Sum(Functional.Exp(teacher) * -difference, 1);
        return Functional.Mean(forward + backward) * 0.5f;
    }
}
