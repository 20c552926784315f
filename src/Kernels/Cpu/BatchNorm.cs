using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Batch-norm kernels over dense [batch, channels, inner] float32 data (inner = product of the
/// spatial dims, 1 for [N, C]). Statistics are per channel, summed per row with vectorised float sums and across rows in double, so that
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
                    // Vectorised per row (float partial sums), rows added in double.
                    var row = new ReadOnlySpan<float>(x + ((long)n * channelCount + c) * innerSize, innerSize);
                    s += TensorPrimitives.Sum(row);
                    s2 += TensorPrimitives.SumOfSquares(row);
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
                var destination = new Span<float>(y + (long)r * innerSize, innerSize);
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + (long)r * innerSize, innerSize), m, destination);
                TensorPrimitives.Multiply(destination, s, destination);
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
                    var g = new ReadOnlySpan<float>(gradOutput + start, innerSize);
                    s += TensorPrimitives.Sum(g);
                    sx += TensorPrimitives.Dot(g, new ReadOnlySpan<float>(normalized + start, innerSize));
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
                var gi = new Span<float>(gradInput + start, innerSize);
                // gi = s * ((g - mg) - xhat * mgx)
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(gradOutput + start, innerSize), mg, gi);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(normalized + start, innerSize), -mgx, gi, gi);
                TensorPrimitives.Multiply(gi, s, gi);
            }
        });
    }
}
