using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Reductions of dense [outer, length, inner] float data along the middle dim, one output per
/// line (see <see cref="LineLayout"/>). Launch with blocks of (threadsPerLine, linesPerBlock)
/// from <see cref="GpuReduce.LaunchShape"/>; every thread reaches the shuffles and barriers.
/// </summary>
public static class ReduceKernels
{
    /// <summary>output[line] = sum of the line. Overwrites output.</summary>
    [Kernel]
    public static void Sum(
        // [outer, length, inner]
        DeviceSpan<float> input,
        LineLayout lines,
        // [lineCount]
        DeviceSpan<float> output)
    {
        DeviceSpan<float> scratch = Shared.Allocate<float>(LineReduction.ScratchSize);
        int line = LineReduction.Line;
        bool active = line < lines.LineCount;
        float sum = 0f;
        if (active)
        {
            int start = lines.Start(line);
            for (int k = Grid.ThreadX; k < lines.Length; k += Grid.BlockDimX)
                sum += input[start + k * lines.Inner];
        }
        sum = LineReduction.Sum(sum, scratch);
        if (active && Grid.ThreadX == 0)
            output[line] = sum;
    }

    /// <summary>
    /// values[line] = max (min when <paramref name="max"/> is 0) of the line, indices[line] = the
    /// first position where it occurs; NaN wins as in PyTorch. Lines must be non-empty. Overwrites both.
    /// </summary>
    [Kernel]
    public static void Extreme(
        // [outer, length, inner]
        DeviceSpan<float> input,
        LineLayout lines,
        int max,
        // [lineCount]
        DeviceSpan<float> values,
        DeviceSpan<long> indices)
    {
        DeviceSpan<float> scratchValues = Shared.Allocate<float>(LineReduction.ScratchSize);
        DeviceSpan<int> scratchIndices = Shared.Allocate<int>(LineReduction.ScratchSize);
        bool isMax = max != 0;
        int line = LineReduction.Line;
        bool active = line < lines.LineCount;
        float best = isMax ? float.NegativeInfinity : float.PositiveInfinity;
        int bestIndex = int.MaxValue;
        if (active)
        {
            int start = lines.Start(line);
            for (int k = Grid.ThreadX; k < lines.Length; k += Grid.BlockDimX)
            {
                float v = input[start + k * lines.Inner];
                if (LineReduction.Beats(v, k, best, bestIndex, isMax))
                {
                    best = v;
                    bestIndex = k;
                }
            }
        }
        ArgBest winner = LineReduction.Extreme(new ArgBest { Value = best, Index = bestIndex }, isMax, scratchValues, scratchIndices);
        if (active && Grid.ThreadX == 0)
        {
            values[line] = winner.Value;
            indices[line] = winner.Index;
        }
    }

    /// <summary>output[line] = log(sum(exp(line))), stabilised by the line's max (±inf and NaN pass through). Overwrites output.</summary>
    [Kernel]
    public static void LogSumExp(
        // [outer, length, inner]
        DeviceSpan<float> input,
        LineLayout lines,
        // [lineCount]
        DeviceSpan<float> output)
    {
        DeviceSpan<float> scratch = Shared.Allocate<float>(LineReduction.ScratchSize);
        int line = LineReduction.Line;
        bool active = line < lines.LineCount;
        int start = active ? lines.Start(line) : 0;
        int length = active ? lines.Length : 0;
        float max = float.NegativeInfinity;
        for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
            max = MathF.Max(max, input[start + k * lines.Inner]);
        max = LineReduction.Max(max, scratch);
        bool finite = !float.IsInfinity(max);
        float sum = 0f;
        if (finite)
        {
            for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
                sum += MathF.Exp(input[start + k * lines.Inner] - max);
        }
        sum = LineReduction.Sum(sum, scratch);
        if (active && Grid.ThreadX == 0)
            output[line] = finite ? max + MathF.Log(sum) : max;
    }

    /// <summary>
    /// output[line] = sum((x - mean)²) / (length - correction) (NaN when that divisor is not
    /// positive), mean[line] = the line's mean; two passes. Overwrites both.
    /// </summary>
    [Kernel]
    public static void Variance(
        // [outer, length, inner]
        DeviceSpan<float> input,
        LineLayout lines,
        int correction,
        // [lineCount]
        DeviceSpan<float> output,
        DeviceSpan<float> mean)
    {
        DeviceSpan<float> scratch = Shared.Allocate<float>(LineReduction.ScratchSize);
        int line = LineReduction.Line;
        bool active = line < lines.LineCount;
        int start = active ? lines.Start(line) : 0;
        int length = active ? lines.Length : 0;
        float sum = 0f;
        for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
            sum += input[start + k * lines.Inner];
        float mu = LineReduction.Sum(sum, scratch) / lines.Length;
        float squares = 0f;
        for (int k = Grid.ThreadX; k < length; k += Grid.BlockDimX)
        {
            float d = input[start + k * lines.Inner] - mu;
            squares += d * d;
        }
        squares = LineReduction.Sum(squares, scratch);
        if (active && Grid.ThreadX == 0)
        {
            int divisor = lines.Length - correction;
            output[line] = divisor > 0 ? squares / divisor : float.NaN;
            mean[line] = mu;
        }
    }
}
