using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>Host-side launches of <see cref="ReduceKernels"/> over dense [outer, length, inner] data.</summary>
public static class GpuReduce
{
    /// <summary>Threads per block of every line kernel.</summary>
    public const int ThreadsPerBlock = 256;

    /// <summary>
    /// Block (threadsPerLine, linesPerBlock) and grid for <paramref name="lines"/>: one thread per
    /// line when inner &gt; 1 (coalesced across lines), a block per line for few long lines, and a
    /// power-of-two lane group up to a warp otherwise.
    /// </summary>
    public static (Dim3 Grid, Dim3 Block) LaunchShape(LineLayout lines)
    {
        int threadsPerLine;
        if (lines.Inner > 1)
            threadsPerLine = 1;
        else if (lines.Length >= 4096 && lines.LineCount < 1024)
            threadsPerLine = ThreadsPerBlock;
        else
            threadsPerLine = Math.Min(Warp.Size, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(lines.Length, 1)));
        int linesPerBlock = ThreadsPerBlock / threadsPerLine;
        int blocks = (lines.LineCount + linesPerBlock - 1) / linesPerBlock;
        return (blocks, new Dim3(threadsPerLine, linesPerBlock));
    }

    /// <summary>output[line] = sum of each line. Overwrites output.</summary>
    public static void Sum(KernelLauncher launcher, DeviceSpan<float> input, LineLayout lines, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (lines.LineCount == 0)
            return;
        var (grid, block) = LaunchShape(lines);
        launcher.Launch(ReduceKernels.Sum, grid, block, input, lines, output);
    }

    /// <summary>Max (or min) of each non-empty line and the first index of it. Overwrites values and indices.</summary>
    public static void Extreme(KernelLauncher launcher, DeviceSpan<float> input, LineLayout lines, bool max, DeviceSpan<float> values, DeviceSpan<long> indices)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (lines.Length == 0)
            throw new ArgumentOutOfRangeException(nameof(lines), "GPU max/min: expected non-empty lines, found length 0; there is no maximum of nothing");
        if (lines.LineCount == 0)
            return;
        var (grid, block) = LaunchShape(lines);
        launcher.Launch(ReduceKernels.Extreme, grid, block, input, lines, max ? 1 : 0, values, indices);
    }

    /// <summary>log(sum(exp(line))) per line. Overwrites output.</summary>
    public static void LogSumExp(KernelLauncher launcher, DeviceSpan<float> input, LineLayout lines, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (lines.LineCount == 0)
            return;
        var (grid, block) = LaunchShape(lines);
        launcher.Launch(ReduceKernels.LogSumExp, grid, block, input, lines, output);
    }

    /// <summary>Variance with <paramref name="correction"/> and mean per line. Overwrites output and mean.</summary>
    public static void Variance(KernelLauncher launcher, DeviceSpan<float> input, LineLayout lines, int correction, DeviceSpan<float> output, DeviceSpan<float> mean)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (lines.LineCount == 0)
            return;
        var (grid, block) = LaunchShape(lines);
        launcher.Launch(ReduceKernels.Variance, grid, block, input, lines, correction, output, mean);
    }
}

/// <summary>Host-side launches of <see cref="SoftmaxKernels"/>.</summary>
public static class GpuSoftmax
{
    /// <summary>y = softmax (or log-softmax) of x along the middle dim of [outer, size, inner]. Overwrites y.</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> x, int outerSize, int size, int innerSize, bool logarithm, DeviceSpan<float> y)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        var lines = new LineLayout(outerSize, size, innerSize);
        if (lines.LineCount == 0 || size == 0)
            return;
        var (grid, block) = GpuReduce.LaunchShape(lines);
        launcher.Launch(SoftmaxKernels.Forward, grid, block, x, lines, logarithm ? 1 : 0, y);
    }

    /// <summary>gradInput from gradOutput and the forward's output y. Overwrites gradInput.</summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> y, int outerSize, int size, int innerSize, bool logarithm, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        var lines = new LineLayout(outerSize, size, innerSize);
        if (lines.LineCount == 0 || size == 0)
            return;
        var (grid, block) = GpuReduce.LaunchShape(lines);
        launcher.Launch(SoftmaxKernels.Backward, grid, block, gradOutput, y, lines, logarithm ? 1 : 0, gradInput);
    }
}
