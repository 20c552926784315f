using System.Runtime.CompilerServices;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Gumbel noise from Philox and the tempered softmax of gumbel_softmax, over a tensor viewed as
/// [outer, size, inner] with the softmax taken along the middle dim.
/// </summary>
public static unsafe class Gumbel
{
    /// <summary>
    /// noise[i] = -log(-log(u)) with u = (bits + 0.5) / 2^24 from lane i % 4 of Philox block
    /// firstBlock + i / 4 (the layout of Generator.Uniform), so values never depend on threading.
    /// u lies strictly inside (0, 1), so the noise is always finite (within about [-2.9, 17.3]).
    /// Overwrites noise.
    /// </summary>
    public static void Noise(ulong seed, ulong firstBlock, int count, float* noise) =>
        CpuParallel.ForCost((count + 3) / 4, 160, (from, to) =>
        {
            for (int b = from; b < to; b++)
            {
                var (x0, x1, x2, x3) = Philox.Block(seed, firstBlock + (ulong)b);
                int i = b * 4;
                noise[i] = FromBits(x0);
                if (i + 1 < count) noise[i + 1] = FromBits(x1);
                if (i + 2 < count) noise[i + 2] = FromBits(x2);
                if (i + 3 < count) noise[i + 3] = FromBits(x3);
            }
        });

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float FromBits(uint bits)
    {
        double u = ((bits >> 8) + 0.5) * (1.0 / 16777216.0);
        return (float)-Math.Log(-Math.Log(u));
    }

    /// <summary>
    /// soft = softmax((logits + noise) / tau) along the middle dim; when hard is not null it also
    /// receives the one-hot of the first maximum of each softmax line. Overwrites soft (and hard).
    /// </summary>
    // logits, noise, soft, hard [outer, size, inner]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SoftmaxForward(float* logits, float* noise, int outer, int size, int inner, float tau, float* soft, float* hard) =>
        CpuParallel.ForCost(outer * inner, 8L * size, (from, to) =>
        {
            float inverseTau = 1f / tau;
            for (int line = from; line < to; line++)
            {
                long start = (long)(line / inner) * size * inner + line % inner;
                float max = float.NegativeInfinity;
                for (int j = 0; j < size; j++)
                {
                    long at = start + (long)j * inner;
                    float z = (logits[at] + noise[at]) * inverseTau;
                    soft[at] = z;
                    if (z > max || float.IsNaN(z)) max = z;
                }
                double sum = 0;
                for (int j = 0; j < size; j++)
                {
                    long at = start + (long)j * inner;
                    float e = MathF.Exp(soft[at] - max);
                    soft[at] = e;
                    sum += e;
                }
                float inverseSum = (float)(1.0 / sum);
                int best = 0;
                for (int j = 0; j < size; j++)
                {
                    long at = start + (long)j * inner;
                    soft[at] *= inverseSum;
                    if (soft[at] > soft[start + (long)best * inner]) best = j;
                }
                if (hard != null)
                    for (int j = 0; j < size; j++)
                        hard[start + (long)j * inner] = j == best ? 1f : 0f;
            }
        });

    /// <summary>gradLogits = (soft * (gradOutput - sum(gradOutput * soft))) / tau along the middle dim. Overwrites gradLogits.</summary>
    // soft, gradOutput, gradLogits [outer, size, inner]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SoftmaxBackward(float* soft, float* gradOutput, int outer, int size, int inner, float tau, float* gradLogits) =>
        CpuParallel.ForCost(outer * inner, 4L * size, (from, to) =>
        {
            float inverseTau = 1f / tau;
            for (int line = from; line < to; line++)
            {
                long start = (long)(line / inner) * size * inner + line % inner;
                double dot = 0;
                for (int j = 0; j < size; j++)
                {
                    long at = start + (long)j * inner;
                    dot += (double)soft[at] * gradOutput[at];
                }
                float weightedSum = (float)dot;
                for (int j = 0; j < size; j++)
                {
                    long at = start + (long)j * inner;
                    gradLogits[at] = soft[at] * (gradOutput[at] - weightedSum) * inverseTau;
                }
            }
        });
}
