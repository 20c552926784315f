using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Batch-norm kernels over dense [batch, channels, inner] float32 data (inner = product of the
/// spatial dims, 1 for [N, C]). Statistics are per channel and accumulated in double so that
/// per-replica sums can be combined across replicas (SyncBN) without losing precision.
/// The affine part (weight, bias) is applied by the caller.
/// </summary>
public static unsafe class BatchNorm
{
    /// <summary>sum[c] = sum of x over batch and inner, sumSquares[c] = sum of x^2. Overwrites both.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ChannelSums(
        float* x,                  // [batch, channels, inner]
        int batchSize, int channelCount, int innerSize,
        double* sum, double* sumSquares) // [channels]
    {
        CpuParallel.ForCost(channelCount, (long)batchSize * innerSize * 2, (from, to) =>
        {
            for (int c = from; c < to; c++)
            {
                double s = 0, s2 = 0;
                for (int n = 0; n < batchSize; n++)
                {
                    float* row = x + ((long)n * channelCount + c) * innerSize;
                    for (int i = 0; i < innerSize; i++)
                    {
                        double v = row[i];
                        s += v;
                        s2 += v * v;
                    }
                }
                sum[c] = s;
                sumSquares[c] = s2;
            }
        });
    }

    /// <summary>y = (x - mean[c]) * invStd[c]. Overwrites y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(
        float* x,                  // [batch, channels, inner]
        float* mean, float* invStd, // [channels]
        int batchSize, int channelCount, int innerSize,
        float* y)                  // [batch, channels, inner]
    {
        CpuParallel.ForCost(batchSize * channelCount, innerSize * 2, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                int c = r % channelCount;
                float m = mean[c], s = invStd[c];
                float* source = x + (long)r * innerSize;
                float* destination = y + (long)r * innerSize;
                for (int i = 0; i < innerSize; i++)
                    destination[i] = (source[i] - m) * s;
            }
        });
    }

    /// <summary>
    /// sumGrad[c] = sum of gradOutput, sumGradNormalized[c] = sum of gradOutput * normalized, over
    /// batch and inner. Overwrites both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradientSums(
        float* gradOutput, float* normalized, // [batch, channels, inner]
        int batchSize, int channelCount, int innerSize,
        double* sumGrad, double* sumGradNormalized) // [channels]
    {
        CpuParallel.ForCost(channelCount, (long)batchSize * innerSize * 2, (from, to) =>
        {
            for (int c = from; c < to; c++)
            {
                double s = 0, sx = 0;
                for (int n = 0; n < batchSize; n++)
                {
                    long start = ((long)n * channelCount + c) * innerSize;
                    float* g = gradOutput + start;
                    float* xhat = normalized + start;
                    for (int i = 0; i < innerSize; i++)
                    {
                        s += g[i];
                        sx += (double)g[i] * xhat[i];
                    }
                }
                sumGrad[c] = s;
                sumGradNormalized[c] = sx;
            }
        });
    }

    /// <summary>
    /// Training-mode backward of the normalisation:
    /// gradInput = invStd[c] * (gradOutput - meanGrad[c] - normalized * meanGradNormalized[c]),
    /// where the means are the (possibly cross-replica) sums divided by the total count.
    /// Overwrites gradInput.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardInput(
        float* gradOutput, float* normalized,                      // [batch, channels, inner]
        float* invStd, float* meanGrad, float* meanGradNormalized, // [channels]
        int batchSize, int channelCount, int innerSize,
        float* gradInput)                                          // [batch, channels, inner]
    {
        CpuParallel.ForCost(batchSize * channelCount, innerSize * 3, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                int c = r % channelCount;
                float s = invStd[c], mg = meanGrad[c], mgx = meanGradNormalized[c];
                long start = (long)r * innerSize;
                float* g = gradOutput + start;
                float* xhat = normalized + start;
                float* gi = gradInput + start;
                for (int i = 0; i < innerSize; i++)
                    gi[i] = s * (g[i] - mg - xhat[i] * mgx);
            }
        });
    }
}
