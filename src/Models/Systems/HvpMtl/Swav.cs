using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>
/// SwAV's online clustering (Caron et al. 2020) as HVP-MTL's contrastive objective: a projector
/// (Linear → GELU → Linear, then L2 normalisation; SwAV uses BatchNorm + ReLU, we use GELU
/// without BatchNorm because our batches are small), and K prototypes c_k ("prototypes" [K, p],
/// rows re-normalised to unit length before every use, as SwAV does each step).
/// </summary>
public sealed class SwavHead : Module
{
    public SwavHead(int inChannels, int hidden, int projection, int prototypes, Generator generator)
    {
        if (prototypes < 2)
            throw new ArgumentOutOfRangeException(nameof(prototypes), prototypes, $"swav: prototypes K expected at least 2, found {prototypes}");
        Fc1 = RegisterModule("fc1", new Linear(inChannels, hidden, generator: generator));
        Fc2 = RegisterModule("fc2", new Linear(hidden, projection, generator: generator));
        Prototypes = RegisterParameter("prototypes", Init.Normal([prototypes, projection], 1f, generator));
        NormalisePrototypes();
    }

    public Linear Fc1 { get; }
    public Linear Fc2 { get; }

    /// <summary>C [K, p]: the prototypes.</summary>
    public Tensor Prototypes { get; }

    /// <summary>Pooled features [B, D] → L2-normalised embeddings f [B, p].</summary>
    public Tensor Project(Tensor pooled) => Functional.Normalize(Fc2.Forward(Functional.Gelu(Fc1.Forward(pooled))), 1);

    /// <summary>Prototype scores fᵀc_k [B, K] (call <see cref="NormalisePrototypes"/> once per step before the forward).</summary>
    public Tensor Scores(Tensor embeddings) => embeddings.Matmul(Prototypes.T);

    /// <summary>Rows of the prototype matrix to unit length, in place, outside autograd.</summary>
    public void NormalisePrototypes()
    {
        using (GradMode.NoGrad())
        {
            var normalised = Functional.Normalize(Prototypes, 1);
            Prototypes.CopyFrom(normalised);
            normalised.Dispose();
        }
    }
}

/// <summary>SwAV's codes and swapped-prediction loss (HVP-MTL Eqs. 2-3).</summary>
public static class SwavLoss
{
    /// <summary>
    /// Sinkhorn-Knopp codes Q [B, K] of prototype scores [B, K] (no gradient): Q = exp(min(s/ε,
    /// T_max))ᵀ, normalised to total 1, then <paramref name="iterations"/> rounds of equal
    /// prototype mass (rows sum to 1/K) and equal sample mass (columns sum to 1/B), finally scaled
    /// so each sample's code sums to 1. The clamp at T_max is HVP-MTL's truncation against
    /// overflow of the exponential (applied to s/ε, the exponential's input).
    /// </summary>
    public static Tensor SinkhornKnopp(Tensor scores, float epsilon, int iterations, float clampMax)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Rank != 2)
            throw new TensorShapeException($"sinkhorn: 'scores' expected [batch, prototypes], found {Shapes.Format(scores.Shape)}", nameof(scores));
        using var noGrad = GradMode.NoGrad();
        int batchSize = scores.Size(0), prototypes = scores.Size(1);
        var q = Functional.Exp(Functional.Clamp(scores.Detach() / epsilon, max: clampMax)).T; // [K, B]
        q = q / Functional.Sum(q);
        for (int i = 0; i < iterations; i++)
        {
            q = q / Functional.Sum(q, 1, keepDim: true) / prototypes;
            q = q / Functional.Sum(q, 0, keepDim: true) / batchSize;
        }
        return (q * batchSize).T.Contiguous();
    }

    /// <summary>ℓ(f, q) = −Σ_k q_k log softmax(fᵀc / τ)_k, averaged over the batch.</summary>
    public static Tensor CrossEntropy(Tensor scores, Tensor codes, float temperature) =>
        -Functional.Mean(Functional.Sum(codes * Functional.LogSoftmax(scores / temperature, 1), 1));

    /// <summary>
    /// The swapped prediction (Eq. 2): ℓ(f_t, q_s) + ℓ(f_s, q_t), codes from each view's own
    /// scores by Sinkhorn-Knopp, stop-gradient on the codes. Summed as printed (SwAV averages).
    /// </summary>
    public static Tensor Swapped(Tensor scoresT, Tensor scoresS, float temperature, float epsilon, int iterations, float clampMax)
    {
        var codesT = SinkhornKnopp(scoresT, epsilon, iterations, clampMax);
        var codesS = SinkhornKnopp(scoresS, epsilon, iterations, clampMax);
        return CrossEntropy(scoresT, codesS, temperature) + CrossEntropy(scoresS, codesT, temperature);
    }
}
