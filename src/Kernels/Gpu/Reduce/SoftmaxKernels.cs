using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Softmax and log-softmax along the middle dim of dense [outer, size, inner] data, one line per
/// (outer, inner) pair: a lane group, warp or block per line when inner = 1, one thread per line
/// otherwise (neighbouring threads then read neighbouring elements). Stabilised by the line max;
/// launch shapes from <see cref="GpuReduce.LaunchShape"/>.
/// </summary>
public static class SoftmaxKernels
{
    /// <summary>y = softmax(x), or log_softmax when <paramref name="logarithm"/> is not 0. Overwrites y.</summary>
    [Kernel]
    public static void Forward(
        // [outer, size, inner]
        DeviceSpan<float> x,
        LineLayout lines,
        int logarithm,
        // [outer, size, inner]
        DeviceSpan<float> y)
    {
        DeviceSpan<float> scratch = Shared.Allocate<float>(LineReduction.ScratchSize);
        int line = LineReduction.Line;
        bool active = line < lines.LineCount;
        int start = active ? lines.Start(line) : 0;
        int length = active ? lines.Length : 0;
        int step = lines.Inner;
        float max = float.NegativeInfinity;
        for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
            max = MathF.Max(max, x[start + k * step]);
        max = LineReduction.Max(max, scratch);
        if (float.IsNegativeInfinity(max))
            max = 0f;
        float sum = 0f;
        for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
        {
            float e = MathF.Exp(x[start + k * step] - max);
            sum += e;
            if (logarithm == 0)
                y[start + k * step] = e;
        }
        sum = LineReduction.Sum(sum, scratch);
        if (logarithm != 0)
        {
            float shift = max + MathF.Log(sum);
            for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
                y[start + k * step] = x[start + k * step] - shift;
        }
        else
        {
            float scale = 1f / sum;
            for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
                y[start + k * step] *= scale;
        }
    }

    /// <summary>
    /// From the forward's output y: softmax gradInput = y · (gradOutput - Σ gradOutput·y);
    /// log_softmax gradInput = gradOutput - exp(y) · Σ gradOutput. Overwrites gradInput.
    /// </summary>
    [Kernel]
    public static void Backward(
        // [outer, size, inner]
        DeviceSpan<float> gradOutput,
        DeviceSpan<float> y,
        LineLayout lines,
        int logarithm,
        // [outer, size, inner]
        DeviceSpan<float> gradInput)
    {
        DeviceSpan<float> scratch = Shared.Allocate<float>(LineReduction.ScratchSize);
        int line = LineReduction.Line;
        bool active = line < lines.LineCount;
        int start = active ? lines.Start(line) : 0;
        int length = active ? lines.Length : 0;
        int step = lines.Inner;
        float dot = 0f;
        for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
        {
            int at = start + k * step;
            dot += logarithm != 0 ? gradOutput[at] : gradOutput[at] * y[at];
        }
        dot = LineReduction.Sum(dot, scratch);
        for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
        {
            int at = start + k * step;
            gradInput[at] = logarithm != 0 ? gradOutput[at] - MathF.Exp(y[at]) * dot : y[at] * (gradOutput[at] - dot);
        }
    }
}
