using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Softmax and log-softmax along one dim of dense float32 data viewed as [outer, size, inner]
/// (the softmax dim in the middle; inner = 1 when it is the last dim). Stabilised by the max.
/// </summary>
public static unsafe class Softmax
{
    /// <summary>y = softmax(x) (or log_softmax when <paramref name="logarithm"/>) along the middle dim. Overwrites y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(
        float* x,                  // [outer, size, inner]
        int outerSize, int size, int innerSize, bool logarithm,
        float* y)                  // [outer, size, inner]
    {
        if (size == 0) return;
        CpuParallel.ForCost(outerSize * innerSize, (long)size * 8, (from, to) =>
        {
            for (int line = from; line < to; line++)
            {
                int o = line / innerSize, i = line % innerSize;
                long start = (long)o * size * innerSize + i;
                if (innerSize == 1)
                {
                    ForwardContiguous(new ReadOnlySpan<float>(x + start, size), logarithm, new Span<float>(y + start, size));
                    continue;
                }
                float* source = x + start;
                float* destination = y + start;
                float max = float.NegativeInfinity;
                for (int k = 0; k < size; k++) max = MathF.Max(max, source[(long)k * innerSize]);
                if (float.IsNegativeInfinity(max)) max = 0f;
                double sum = 0;
                for (int k = 0; k < size; k++)
                {
                    float e = MathF.Exp(source[(long)k * innerSize] - max);
                    sum += e;
                    if (!logarithm) destination[(long)k * innerSize] = e;
                }
                if (logarithm)
                {
                    float shift = max + (float)Math.Log(sum);
                    for (int k = 0; k < size; k++) destination[(long)k * innerSize] = source[(long)k * innerSize] - shift;
                }
                else
                {
                    float scale = (float)(1.0 / sum);
                    for (int k = 0; k < size; k++) destination[(long)k * innerSize] *= scale;
                }
            }
        });
    }

    private static void ForwardContiguous(ReadOnlySpan<float> x, bool logarithm, Span<float> y)
    {
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max)) max = 0f;
        TensorPrimitives.Subtract(x, max, y);
        if (logarithm)
        {
            double sum = 0;
            foreach (float v in y) sum += MathF.Exp(v);
            TensorPrimitives.Subtract(y, (float)Math.Log(sum), y);
        }
        else
        {
            TensorPrimitives.Exp(y, y);
            double sum = 0;
            foreach (float v in y) sum += v;
            TensorPrimitives.Multiply(y, (float)(1.0 / sum), y);
        }
    }

    /// <summary>
    /// Backward from the forward's output y: softmax gradInput = y * (gradOutput - sum(gradOutput * y));
    /// log_softmax gradInput = gradOutput - exp(y) * sum(gradOutput). Overwrites gradInput.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(
        float* gradOutput, float* y, // [outer, size, inner]
        int outerSize, int size, int innerSize, bool logarithm,
        float* gradInput)            // [outer, size, inner]
    {
        CpuParallel.ForCost(outerSize * innerSize, (long)size * 6, (from, to) =>
        {
            for (int line = from; line < to; line++)
            {
                int o = line / innerSize, i = line % innerSize;
                long start = (long)o * size * innerSize + i;
                float* g = gradOutput + start;
                float* output = y + start;
                float* gi = gradInput + start;
                double dot = 0;
                for (int k = 0; k < size; k++)
                {
                    long at = (long)k * innerSize;
                    dot += logarithm ? g[at] : (double)g[at] * output[at];
                }
                float total = (float)dot;
                for (int k = 0; k < size; k++)
                {
                    long at = (long)k * innerSize;
                    gi[at] = logarithm ? g[at] - MathF.Exp(output[at]) * total : output[at] * (g[at] - total);
                }
            }
        });
    }
}
