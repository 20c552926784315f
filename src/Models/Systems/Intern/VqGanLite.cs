using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>
/// The small VQ-GAN of INTERN's multi-stage fine-tuning (MF): images are encoded to a map at 1/4
/// resolution, each position is snapped to its nearest codebook vector (<see cref="VectorQuantizer"/>),
/// and decoded back. Trained on upstream images with L1 reconstruction + codebook loss + β·commitment
/// (β = 0.25, VQ-VAE's value); downstream images reconstructed through it move toward the upstream
/// image statistics, which is what MF's first stage trains the head on. The paper's patch
/// discriminator is left out (the issue marks it optional): at 32 px an L1-trained decoder already
/// gives the "upstream-looking" reconstructions MF needs.
/// <para>Encoder: conv 4×4/2 → ReLU → conv 4×4/2 → ReLU → conv 1×1 to the code width. Decoder: conv
/// 3×3 → ReLU → transposed conv 4×4/2 → ReLU → transposed conv 4×4/2 to RGB.</para>
/// </summary>
public sealed class VqGanLite : Module
{
    public VqGanLite(int channels = 32, int codeDim = 16, int codebookSize = 64, float commitment = 0.25f, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(codeDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(codebookSize, 2);
        if (!(commitment >= 0f) || !float.IsFinite(commitment))
            throw new ArgumentOutOfRangeException(nameof(commitment), commitment, $"VqGanLite: 'commitment' (β) expected a finite value ≥ 0, found {commitment}");
        generator ??= Generator.Default;
        Commitment = commitment;
        Encoder1 = RegisterModule("enc1", new Conv2d(3, channels, 4, stride: 2, padding: 1, generator: generator));
        Encoder2 = RegisterModule("enc2", new Conv2d(channels, channels, 4, stride: 2, padding: 1, generator: generator));
        EncoderOut = RegisterModule("enc_out", new Conv2d(channels, codeDim, 1, generator: generator));
        // VQ-VAE initialises the codebook uniformly in ±1/K.
        var codes = Tensor.Rand([codebookSize, codeDim], generator);
        using (GradMode.NoGrad()) codes = (codes * 2f - 1f) * (1f / codebookSize);
        Codebook = RegisterParameter("codebook", codes);
        DecoderIn = RegisterModule("dec_in", new Conv2d(codeDim, channels, 3, padding: 1, generator: generator));
        Decoder1 = RegisterModule("dec1", new ConvTranspose2d(channels, channels, 4, stride: 2, padding: 1, generator: generator));
        Decoder2 = RegisterModule("dec2", new ConvTranspose2d(channels, 3, 4, stride: 2, padding: 1, generator: generator));
    }

    public float Commitment { get; }
    public Conv2d Encoder1 { get; }
    public Conv2d Encoder2 { get; }
    public Conv2d EncoderOut { get; }
    public Tensor Codebook { get; }
    public Conv2d DecoderIn { get; }
    public ConvTranspose2d Decoder1 { get; }
    public ConvTranspose2d Decoder2 { get; }

    /// <summary>images [B, 3, H, W] (H, W multiples of 4) → z_e [B, codeDim, H/4, W/4].</summary>
    public Tensor Encode(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rank != 4 || images.Size(1) != 3 || images.Size(2) % 4 != 0 || images.Size(3) % 4 != 0)
            throw new TensorShapeException($"VqGanLite: expected images [B, 3, H, W] with H and W multiples of 4, found {Shapes.Format(images.Shape)}", nameof(images));
        return EncoderOut.Forward(F.Relu(Encoder2.Forward(F.Relu(Encoder1.Forward(images)))));
    }

    /// <summary>Quantised codes [B, codeDim, h, w] → images [B, 3, 4h, 4w].</summary>
    public Tensor Decode(Tensor codes) => Decoder2.Forward(F.Relu(Decoder1.Forward(F.Relu(DecoderIn.Forward(codes)))));

    /// <summary>The training objective on a batch: L1(x̂, x) + codebook + β·commitment; also returns x̂.</summary>
    public (Tensor Loss, Tensor Reconstruction, Tensor L1) Loss(Tensor images)
    {
        var quantized = VectorQuantizer.Quantize(Encode(images), Codebook);
        var reconstruction = Decode(quantized.StraightThrough);
        var l1 = F.L1Loss(reconstruction, images);
        return (l1 + quantized.CodebookLoss + quantized.CommitmentLoss * Commitment, reconstruction, l1);
    }

    /// <summary>images → their reconstructions through the codebook (no gradient; evaluation mode).</summary>
    public Tensor Reconstruct(Tensor images)
    {
        using var noGrad = GradMode.NoGrad();
        return Decode(VectorQuantizer.Quantize(Encode(images), Codebook).StraightThrough).Detach();
    }

    /// <summary>
    /// Trains on <paramref name="steps"/> batches from <paramref name="nextBatch"/> (step → images
    /// [B, 3, H, W]) with AdamW; returns the L1 reconstruction error per step (the MF stage-0
    /// curve). <paramref name="log"/> gets a line every tenth of the run.
    /// </summary>
    public IReadOnlyList<double> Train(Func<int, Tensor> nextBatch, int steps, float learningRate = 2e-3f, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(nextBatch);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var optimizer = new Optim.AdamW(Parameters(), learningRate, weightDecay: 0f);
        var curve = new List<double>(steps);
        Train();
        for (int step = 0; step < steps; step++)
        {
            using var scope = new TensorScope();
            var (loss, _, l1) = Loss(nextBatch(step));
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
            curve.Add(l1.Item());
            if (log is not null && (step + 1) % Math.Max(1, steps / 10) == 0)
                log($"vq-gan step {step + 1}/{steps}: L1 {curve[^1]:F4}");
        }
        Eval();
        return curve;
    }
}
