using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Negative log-likelihood over dense [batch, classes, inner] log-probabilities with int64
/// class targets [batch, inner] (inner = product of the extra dims of spatial targets, else 1).
/// Targets equal to ignoreIndex contribute nothing; callers validate the other targets first.
/// </summary>
public static unsafe class NllLoss
{
    /// <summary>
    /// loss[n, i] = -weight[t] * logProbs[n, t, i] with t = target[n, i], and targetWeight[n, i] =
    /// weight[t] (1 without weights); both 0 where t == ignoreIndex. Overwrites loss and targetWeight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(
        float* logProbs,           // [batch, classes, inner]
        long* target,              // [batch, inner]
        float* weight,             // [classes] or null
        int batchSize, int classCount, int innerSize, long ignoreIndex,
        float* loss, float* targetWeight) // [batch, inner]
    {
        CpuParallel.ForCost(batchSize * innerSize, 4, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                int n = r / innerSize, i = r % innerSize;
                long t = target[r];
                if (t == ignoreIndex)
                {
                    loss[r] = 0f;
                    targetWeight[r] = 0f;
                    continue;
                }
                float w = weight == null ? 1f : weight[t];
                loss[r] = -w * logProbs[((long)n * classCount + t) * innerSize + i];
                targetWeight[r] = w;
            }
        });
    }

    /// <summary>
    /// gradLogProbs[n, t, i] = -targetWeight[n, i] * gradLoss[n, i] at the target class, 0 elsewhere.
    /// Overwrites gradLogProbs (which must start zeroed: only target entries are written).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(
        float* gradLoss, float* targetWeight, // [batch, inner]
        long* target,                         // [batch, inner]
        int batchSize, int classCount, int innerSize, long ignoreIndex,
        float* gradLogProbs)                  // [batch, classes, inner], zeroed
    {
        CpuParallel.ForCost(batchSize * innerSize, 4, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                long t = target[r];
                if (t == ignoreIndex) continue;
                int n = r / innerSize, i = r % innerSize;
                gradLogProbs[((long)n * classCount + t) * innerSize + i] = -targetWeight[r] * gradLoss[r];
            }
        });
    }
}
