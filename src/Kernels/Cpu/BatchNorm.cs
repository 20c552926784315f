using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Batch-norm kernels over dense [batch, channels, inner] float32 data (inner = product of the
/// spatial dims, 1 for [N, C]). Statistics are per channel, summed per row with vectorised float sums and across rows in double, so that
/// per-replica sums can be combined across replicas (SyncBN) without losing precision.
/// The affine weight and bias are fused into the normalise and backward passes.
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

    /// <summary>
    /// y = (x - mean[c]) * invStd[c] * weight[c] + bias[c] in one pass, as x * scale[c] + shift[c]
    /// (weight and bias may be null: 1 and 0). Overwrites y.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NormalizeAffine(
        float* x,                                  // [batch, channels, inner]
        float* mean, float* invStd, float* weight, float* bias, // [channels]
        int batchSize, int channelCount, int innerSize,
        float* y)                                  // [batch, channels, inner]
    {
        CpuParallel.ForCost(batchSize * channelCount, innerSize * 2, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                int c = r % channelCount;
                float scale = invStd[c] * (weight == null ? 1f : weight[c]);
                float shift = (bias == null ? 0f : bias[c]) - mean[c] * scale;
                var destination = new Span<float>(y + (long)r * innerSize, innerSize);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(x + (long)r * innerSize, innerSize), scale, destination);
                TensorPrimitives.Add(destination, shift, destination);
            }
        });
    }

    /// <summary>
    /// sumGrad[c] = Σ gradOutput, sumGradNormalized[c] = Σ gradOutput · (x - mean[c]) · invStd[c]
    /// over batch and inner (the normalised input is recomputed, not stored). Overwrites both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradientSums(
        float* gradOutput, float* x,               // [batch, channels, inner]
        float* mean, float* invStd,                // [channels]
        int batchSize, int channelCount, int innerSize,
        double* sumGrad, double* sumGradNormalized) // [channels]
    {
        CpuParallel.ForCost(channelCount, (long)batchSize * innerSize * 2, (from, to) =>
        {
            for (int c = from; c < to; c++)
            {
                double s = 0, sx = 0;
                float m = mean[c];
                for (int n = 0; n < batchSize; n++)
                {
                    long start = ((long)n * channelCount + c) * innerSize;
                    float* g = gradOutput + start;
                    float* xs = x + start;
                    s += TensorPrimitives.Sum(new ReadOnlySpan<float>(g, innerSize));
                    // Σ g · (x - m), vectorised; rows added in double
                    int i = 0;
                    float partial = 0f;
                    if (Vector512.IsHardwareAccelerated)
                    {
                        var acc = Vector512<float>.Zero;
                        var vm = Vector512.Create(m);
                        for (; i <= innerSize - 16; i += 16)
                            acc += Vector512.Load(g + i) * (Vector512.Load(xs + i) - vm);
                        partial = Vector512.Sum(acc);
                    }
                    for (; i < innerSize; i++) partial += g[i] * (xs[i] - m);
                    sx += partial;
                }
                sumGrad[c] = s;
                sumGradNormalized[c] = sx * invStd[c];
            }
        });
    }

    /// <summary>
    /// Backward of the normalisation with the affine weight folded in:
    /// gradInput = invStd[c]·weight[c] · (gradOutput - meanGrad[c] - x̂ · meanGradNormalized[c]),
    /// x̂ = (x - mean[c])·invStd[c] recomputed; the means are the (possibly cross-replica) sums
    /// divided by the total count (both zero in evaluation mode). Overwrites gradInput.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardInput(
        float* gradOutput, float* x,                                          // [batch, channels, inner]
        float* mean, float* invStd, float* weight, float* meanGrad, float* meanGradNormalized, // [channels]
        int batchSize, int channelCount, int innerSize,
        float* gradInput)                                                     // [batch, channels, inner]
    {
        CpuParallel.ForCost(batchSize * channelCount, innerSize * 3, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                int c = r % channelCount;
                float s = invStd[c], m = mean[c], mg = meanGrad[c], mgx = meanGradNormalized[c];
                float scale = s * (weight == null ? 1f : weight[c]);
                long start = (long)r * innerSize;
                float* g = gradOutput + start;
                float* xs = x + start;
                float* gi = gradInput + start;
                int i = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var vs = Vector512.Create(s);
                    var vm = Vector512.Create(m);
                    var vmg = Vector512.Create(mg);
                    var vmgx = Vector512.Create(mgx);
                    var vscale = Vector512.Create(scale);
                    for (; i <= innerSize - 16; i += 16)
                    {
                        var xhat = (Vector512.Load(xs + i) - vm) * vs;
                        (vscale * (Vector512.Load(g + i) - vmg - xhat * vmgx)).Store(gi + i);
                    }
                }
                for (; i < innerSize; i++)
                    gi[i] = scale * (g[i] - mg - (xs[i] - m) * s * mgx);
            }
        });
    }
}
