using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Row normalisation over dense [rows, length] float32 data: layer norm (rows = leading dims,
/// length = normalised trailing dims) and group norm (rows = batch * groups). The affine part
/// is applied by the caller.
/// </summary>
public static unsafe class LayerNorm
{
    /// <summary>
    /// y = (x - mean) * rstd per row, with the biased variance; mean[r] and rstd[r] =
    /// 1 / sqrt(var + eps) are written for the backward. Overwrites y, mean, rstd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(
        float* x,                  // [rows, length]
        int rows, int length, float eps,
        float* y,                  // [rows, length]
        float* mean, float* rstd)  // [rows]
    {
        CpuParallel.ForCost(rows, (long)length * 4, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                float* source = x + (long)r * length;
                float* destination = y + (long)r * length;
                double sum = 0;
                for (int j = 0; j < length; j++) sum += source[j];
                double mu = sum / length;
                double squares = 0;
                for (int j = 0; j < length; j++)
                {
                    double d = source[j] - mu;
                    squares += d * d;
                }
                float m = (float)mu;
                float s = (float)(1.0 / Math.Sqrt(squares / length + eps));
                for (int j = 0; j < length; j++)
                    destination[j] = (source[j] - m) * s;
                mean[r] = m;
                rstd[r] = s;
            }
        });
    }

    /// <summary>
    /// gradInput = rstd * (gradOutput - mean(gradOutput) - normalized * mean(gradOutput * normalized)),
    /// means taken per row. Overwrites gradInput.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(
        float* gradOutput, float* normalized, // [rows, length]
        float* rstd,                          // [rows]
        int rows, int length,
        float* gradInput)                     // [rows, length]
    {
        CpuParallel.ForCost(rows, (long)length * 5, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                long start = (long)r * length;
                float* g = gradOutput + start;
                float* xhat = normalized + start;
                float* gi = gradInput + start;
                double sum = 0, sumNormalized = 0;
                for (int j = 0; j < length; j++)
                {
                    sum += g[j];
                    sumNormalized += (double)g[j] * xhat[j];
                }
                float meanGrad = (float)(sum / length), meanGradNormalized = (float)(sumNormalized / length);
                float s = rstd[r];
                for (int j = 0; j < length; j++)
                    gi[j] = s * (g[j] - meanGrad - xhat[j] * meanGradNormalized);
            }
        });
    }

    /// <summary>Rows per block of <see cref="BackwardAffine"/>'s weight and bias gradient partial sums (fixed, so the sums do not depend on the thread count).</summary>
    public const int AffineRowsPerBlock = 64;

    /// <summary>
    /// Layer norm with its affine part in one pass over each row: y = (x − mean) · rstd · weight + bias
    /// (either may be null), biased variance, rows of <paramref name="length"/> floats; mean and
    /// rstd per row are written for <see cref="BackwardAffine"/>. Float accumulation in vector
    /// lanes, two passes (mean, then squared deviations), as PyTorch's CPU kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardAffine(
        float* x,                        // [rows, length]
        int rows, int length, float eps,
        float* weight, float* bias,      // [length] each, or null
        float* y,                        // [rows, length]
        float* mean, float* rstd)        // [rows]
    {
        CpuParallel.ForCost(rows, (long)length * 3, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                float* source = x + (long)r * length;
                float* destination = y + (long)r * length;
                float mu = Sum(source, length) / length;
                float s = 1f / MathF.Sqrt(SquaredDeviations(source, length, mu) / length + eps);
                var vm = Vector256.Create(mu);
                var vs = Vector256.Create(s);
                int j = 0;
                for (; j <= length - 8; j += 8)
                {
                    var v = (Vector256.Load(source + j) - vm) * vs;
                    if (weight != null) v *= Vector256.Load(weight + j);
                    if (bias != null) v += Vector256.Load(bias + j);
                    v.Store(destination + j);
                }
                for (; j < length; j++)
                {
                    float v = (source[j] - mu) * s;
                    if (weight != null) v *= weight[j];
                    if (bias != null) v += bias[j];
                    destination[j] = v;
                }
                mean[r] = mu;
                rstd[r] = s;
            }
        });
    }

    /// <summary>
    /// Backward of <see cref="ForwardAffine"/> from the input and the saved mean and rstd (the
    /// normalised rows are recomputed, not kept): with x̂ = (x − mean) · rstd and ĝ = g · weight,
    /// gradInput = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) (when not null), and per block of
    /// <see cref="AffineRowsPerBlock"/> rows the partial sums of g · x̂ and g over the rows go to
    /// <paramref name="partials"/>[block, 2, length] (the caller sums the blocks in order:
    /// weight and bias gradients that do not depend on the thread count).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardAffine(
        float* gradOutput, float* x,     // [rows, length]
        float* mean, float* rstd,        // [rows]
        float* weight,                   // [length] or null
        int rows, int length,
        float* gradInput,                // [rows, length] or null
        float* partials)                 // [ceil(rows / 64), 2, length] or null
    {
        int blocks = (rows + AffineRowsPerBlock - 1) / AffineRowsPerBlock;
        CpuParallel.ForCost(blocks, (long)AffineRowsPerBlock * length * 6, (from, to) =>
        {
            for (int block = from; block < to; block++)
            {
                float* gradWeight = partials == null ? null : partials + (long)block * 2 * length;
                float* gradBias = gradWeight == null ? null : gradWeight + length;
                if (gradWeight != null)
                    new Span<float>(gradWeight, 2 * length).Clear();
                int end = Math.Min(rows, (block + 1) * AffineRowsPerBlock);
                for (int r = block * AffineRowsPerBlock; r < end; r++)
                    BackwardRow(gradOutput + (long)r * length, x + (long)r * length, mean[r], rstd[r], weight, length,
                        gradInput == null ? null : gradInput + (long)r * length, gradWeight, gradBias);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BackwardRow(float* g, float* x, float mu, float s, float* weight, int length, float* gi, float* gradWeight, float* gradBias)
    {
        var vm = Vector256.Create(mu);
        var vs = Vector256.Create(s);
        Vector256<float> sumG = default, sumGx = default;
        int j = 0;
        for (; j <= length - 8; j += 8)
        {
            var vg = Vector256.Load(g + j);
            var xhat = (Vector256.Load(x + j) - vm) * vs;
            if (gradWeight != null)
            {
                (Vector256.Load(gradWeight + j) + vg * xhat).Store(gradWeight + j);
                (Vector256.Load(gradBias + j) + vg).Store(gradBias + j);
            }
            if (weight != null) vg *= Vector256.Load(weight + j);
            sumG += vg;
            sumGx += vg * xhat;
        }
        float a = Vector256.Sum(sumG), b = Vector256.Sum(sumGx);
        for (; j < length; j++)
        {
            float vg = g[j], xhat = (x[j] - mu) * s;
            if (gradWeight != null)
            {
                gradWeight[j] += vg * xhat;
                gradBias[j] += vg;
            }
            if (weight != null) vg *= weight[j];
            a += vg;
            b += vg * xhat;
        }
        if (gi == null)
            return;
        float meanG = a / length, meanGx = b / length;
        var vmg = Vector256.Create(meanG);
        var vmgx = Vector256.Create(meanGx);
        j = 0;
        for (; j <= length - 8; j += 8)
        {
            var vg = Vector256.Load(g + j);
            if (weight != null) vg *= Vector256.Load(weight + j);
            var xhat = (Vector256.Load(x + j) - vm) * vs;
            (vs * (vg - vmg - xhat * vmgx)).Store(gi + j);
        }
        for (; j < length; j++)
        {
            float vg = g[j];
            if (weight != null) vg *= weight[j];
            gi[j] = s * (vg - meanG - (x[j] - mu) * s * meanGx);
        }
    }

    private static float Sum(float* v, int length)
    {
        Vector256<float> acc0 = default, acc1 = default;
        int j = 0;
        for (; j <= length - 16; j += 16)
        {
            acc0 += Vector256.Load(v + j);
            acc1 += Vector256.Load(v + j + 8);
        }
        for (; j <= length - 8; j += 8) acc0 += Vector256.Load(v + j);
        float total = Vector256.Sum(acc0 + acc1);
        for (; j < length; j++) total += v[j];
        return total;
    }

    private static float SquaredDeviations(float* v, int length, float mu)
    {
        var vm = Vector256.Create(mu);
        Vector256<float> acc0 = default, acc1 = default;
        int j = 0;
        for (; j <= length - 16; j += 16)
        {
            var d0 = Vector256.Load(v + j) - vm;
            var d1 = Vector256.Load(v + j + 8) - vm;
            acc0 += d0 * d0;
            acc1 += d1 * d1;
        }
        for (; j <= length - 8; j += 8)
        {
            var d = Vector256.Load(v + j) - vm;
            acc0 += d * d;
        }
        float total = Vector256.Sum(acc0 + acc1);
        for (; j < length; j++)
        {
            float d = v[j] - mu;
            total += d * d;
        }
        return total;
    }
}
