using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Row normalisation over dense [rows, length] float32 data (layer norm, and group norm with
/// rows = batch · groups), the GPU side of <see cref="Cpu.LayerNorm"/>: one block per row, the
/// row's sums as block reductions accumulated in double like the CPU kernel, the block size
/// chosen from the row length (<see cref="BlockSum.BlockSizeFor"/>).
/// </summary>
public static partial class LayerNorm
{
    /// <summary>
    /// y = (x - mean) · rstd per row with the biased variance (two passes: mean, then squared
    /// deviations); writes mean[r] and rstd[r] = 1 / sqrt(var + eps). Grid = rows. Overwrites y, mean, rstd.
    /// </summary>
    [Kernel]
    public static void ForwardRows(
        // [rows, length]
        DeviceSpan<float> input,
        int length, float eps,
        // [rows, length]
        DeviceSpan<float> output,
        // [rows] each
        DeviceSpan<float> mean, DeviceSpan<float> rstd)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int row = Grid.BlockX;
        int start = row * length;
        double sum = 0;
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
            sum += input[start + j];
        double mu = BlockSum.Of(sum, scratch) / length;
        double squares = 0;
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            double d = input[start + j] - mu;
            squares += d * d;
        }
        squares = BlockSum.Of(squares, scratch);
        float m = (float)mu;
        float s = (float)(1.0 / Math.Sqrt(squares / length + eps));
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
            output[start + j] = (input[start + j] - m) * s;
        if (Grid.ThreadX == 0)
        {
            mean[row] = m;
            rstd[row] = s;
        }
    }

    /// <summary>
    /// gradInput = rstd · (gradOutput - mean(gradOutput) - x̂ · mean(gradOutput · x̂)) per row,
    /// means accumulated in double. Grid = rows. Overwrites gradInput.
    /// </summary>
    [Kernel]
    public static void BackwardRows(
        // [rows, length] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> normalized,
        // [rows]
        DeviceSpan<float> rstd,
        int length,
        // [rows, length]
        DeviceSpan<float> gradInput)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int row = Grid.BlockX;
        int start = row * length;
        double sum = 0, sumNormalized = 0;
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            float g = gradOutput[start + j];
            sum += g;
            sumNormalized += (double)g * normalized[start + j];
        }
        float meanGrad = (float)(BlockSum.Of(sum, scratch) / length);
        float meanGradNormalized = (float)(BlockSum.Of(sumNormalized, scratch) / length);
        float s = rstd[row];
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
            gradInput[start + j] = s * (gradOutput[start + j] - meanGrad - normalized[start + j] * meanGradNormalized);
    }

    /// <summary>Launches <see cref="ForwardRows"/>: one block per row.</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> input, int rows, int length, float eps,
        DeviceSpan<float> output, DeviceSpan<float> mean, DeviceSpan<float> rstd)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (rows == 0 || length == 0)
            return;
        launcher.Launch(typeof(LayerNorm).GetMethod(nameof(ForwardRows))!, rows, BlockSum.BlockSizeFor(length), input, length, eps, output, mean, rstd);
    }

    /// <summary>Launches <see cref="BackwardRows"/>: one block per row.</summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> normalized, DeviceSpan<float> rstd,
        int rows, int length, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (rows == 0 || length == 0)
            return;
        launcher.Launch(typeof(LayerNorm).GetMethod(nameof(BackwardRows))!, rows, BlockSum.BlockSizeFor(length), gradOutput, normalized, rstd, length, gradInput);
    }
}
