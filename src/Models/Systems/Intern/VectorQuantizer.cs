using Tessera.Autograd;
using Tessera.Engine;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>What one quantisation step returns.</summary>
/// <param name="StraightThrough">z_e + sg(z_q − z_e): the codes in the forward, the identity to z_e in the backward ([B, D, H, W]).</param>
/// <param name="CodebookLoss">‖sg(z_e) − z_q‖² (mean): moves the chosen codes toward the encoder outputs.</param>
/// <param name="CommitmentLoss">‖z_e − sg(z_q)‖² (mean, before β): keeps the encoder near its codes.</param>
/// <param name="Indices">[B·H·W] int64: the code chosen at each position (row-major over B, H, W).</param>
public sealed record Quantized(Tensor StraightThrough, Tensor CodebookLoss, Tensor CommitmentLoss, Tensor Indices);

/// <summary>
/// VQ-VAE's vector quantiser (van den Oord et al.; the VQ-GAN of INTERN's multi-stage
/// fine-tuning uses it): each D-vector of the encoder map is replaced by its nearest codebook row
/// in L2, with the straight-through estimator carrying the decoder's gradient to the encoder.
/// </summary>
public static class VectorQuantizer
{
    /// <summary>encoded [B, D, H, W], codebook [K, D].</summary>
    public static Quantized Quantize(Tensor encoded, Tensor codebook)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        ArgumentNullException.ThrowIfNull(codebook);
        if (encoded.Rank != 4 || codebook.Rank != 2 || codebook.Size(1) != encoded.Size(1))
            throw new TensorShapeException($"VectorQuantizer: expected encoded [B, D, H, W] and codebook [K, D] with one D, found {Shapes.Format(encoded.Shape)} and {Shapes.Format(codebook.Shape)}", nameof(codebook));
        int batchSize = encoded.Size(0), dim = encoded.Size(1), height = encoded.Size(2), width = encoded.Size(3);
        var flat = encoded.Permute(0, 2, 3, 1).Reshape(batchSize * height * width, dim); // [N, D]
        Tensor indices;
        using (GradMode.NoGrad())
        {
            var e = flat.Detach();
            var codes = codebook.Detach();
            // ‖z‖² − 2 z·e + ‖e‖² (the ‖z‖² term is the same for every code of a row: left out).
            var distances = codes.Mul(codes).Sum(1).Unsqueeze(0) - e.Matmul(codes.Transpose(0, 1)) * 2f;
            indices = F.Argmin(distances, 1);
        }
        var chosen = F.IndexSelect(codebook, 0, indices); // [N, D], gradient to the codebook rows
        var codebookLoss = F.MseLoss(chosen, flat.Detach());
        var commitmentLoss = F.MseLoss(flat, chosen.Detach());
        var straightFlat = flat + (chosen - flat).Detach();
        var straight = straightFlat.Reshape(batchSize, height, width, dim).Permute(0, 3, 1, 2);
        return new Quantized(straight, codebookLoss, commitmentLoss, indices);
    }
}
