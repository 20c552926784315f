using System.Runtime.CompilerServices;
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
}
