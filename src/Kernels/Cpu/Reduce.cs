using System.Numerics.Tensors;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Row reductions over dense [rows, length] float32 data: each output element reduces one row.
/// Callers bring the reduced dims last (a permute + contiguous) before calling.
/// </summary>
public static unsafe class Reduce
{
    /// <summary>y[r] = sum of row r. Overwrites y.</summary>
    public static void Sum(float* x, int rows, int length, float* y) =>
        CpuParallel.ForCost(rows, length, (from, to) =>
        {
            for (int r = from; r < to; r++)
                y[r] = TensorPrimitives.Sum(new ReadOnlySpan<float>(x + (long)r * length, length));
        });

    /// <summary>
    /// y[o, i] = Σ_l x[o, l, i] for a dense x [outer, length, inner]: a sum over a leading or middle
    /// dim read in place (a bias gradient sums [rows, features] over rows), not through a transposed
    /// copy. Tasks own 256-column strips; rows are added in blocks of 64 into a block sum that is then
    /// added to the strip's total (two levels, so the error grows with 64 + length / 64, not length).
    /// Overwrites y.
    /// </summary>
    public static void SumLines(float* x, int outer, int length, int inner, float* y)
    {
        const int Strip = 256, Block = 64;
        int strips = (inner + Strip - 1) / Strip;
        CpuParallel.ForCost(outer * strips, (long)length * Math.Min(inner, Strip), (from, to) =>
        {
            float* block = stackalloc float[Strip];
            for (int task = from; task < to; task++)
            {
                int o = task / strips, column = task % strips * Strip;
                int width = Math.Min(Strip, inner - column);
                var total = new Span<float>(y + (long)o * inner + column, width);
                var partial = new Span<float>(block, width);
                total.Clear();
                float* origin = x + (long)o * length * inner + column;
                for (int l0 = 0; l0 < length; l0 += Block)
                {
                    partial.Clear();
                    for (int l = l0; l < Math.Min(length, l0 + Block); l++)
                        TensorPrimitives.Add(partial, new ReadOnlySpan<float>(origin + (long)l * inner, width), partial);
                    TensorPrimitives.Add(total, partial, total);
                }
            }
        });
    }

    /// <summary>y[r] = max (or min) of row r and, when indices is not null, the first position where it occurs. NaN wins, as in PyTorch.</summary>
    public static void MaxOrMin(float* x, int rows, int length, bool max, float* y, long* indices) =>
        CpuParallel.ForCost(rows, length, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                float* row = x + (long)r * length;
                float best = row[0];
                int bestIndex = 0;
                for (int j = 1; j < length && !float.IsNaN(best); j++)
                {
                    float v = row[j];
                    if (float.IsNaN(v) || (max ? v > best : v < best))
                    {
                        best = v;
                        bestIndex = j;
                    }
                }
                y[r] = best;
                if (indices != null) indices[r] = bestIndex;
            }
        });

    /// <summary>y[r] = log(sum(exp(row r))), stabilised by the row max. Overwrites y.</summary>
    public static void LogSumExp(float* x, int rows, int length, float* y) =>
        CpuParallel.ForCost(rows, length * 4, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                var row = new ReadOnlySpan<float>(x + (long)r * length, length);
                float m = TensorPrimitives.Max(row);
                if (float.IsNegativeInfinity(m) || float.IsPositiveInfinity(m))
                {
                    y[r] = m;
                    continue;
                }
                double sum = 0;
                foreach (float v in row) sum += MathF.Exp(v - m);
                y[r] = m + (float)Math.Log(sum);
            }
        });

    /// <summary>
    /// y[r] = sum((x - mean)^2) / (length - correction) of row r (two passes, double accumulation);
    /// mean[r] written when not null. Overwrites y.
    /// </summary>
    public static void Variance(float* x, int rows, int length, int correction, float* y, float* mean) =>
        CpuParallel.ForCost(rows, length * 2, (from, to) =>
        {
            for (int r = from; r < to; r++)
            {
                float* row = x + (long)r * length;
                double sum = 0;
                for (int j = 0; j < length; j++) sum += row[j];
                double mu = sum / length;
                double squares = 0;
                for (int j = 0; j < length; j++)
                {
                    double d = row[j] - mu;
                    squares += d * d;
                }
                int divisor = length - correction;
                y[r] = divisor > 0 ? (float)(squares / divisor) : float.NaN;
                if (mean != null) mean[r] = (float)mu;
            }
        });
}
