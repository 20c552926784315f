using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Layer norm over dense [rows, length] float32 data, the GPU side of <see cref="Cpu.LayerNorm"/>
/// with the elementwise weight and bias fused in (the CPU op applies them as separate broadcast
/// ops): one block per row, the row's sums as block reductions accumulated in double like the CPU
/// kernel, the block size chosen from the row length (<see cref="BlockSum.BlockSizeFor"/>). The
/// forward writes y = x̂ · w + b and keeps only mean and rstd per row; the backward recomputes x̂,
/// folds w into the row gradient, and gets the weight and bias gradients as column sums over the
/// rows (split over blocks, partials in double, added in a fixed order).
/// </summary>
public static class LayerNorm
{
    /// <summary>Most row splits of the weight/bias gradient.</summary>
    public const int MaxRowSplits = 32;

    /// <summary>
    /// y = (x - mean) · rstd · weight + bias per row (weight and bias of the row's length, either
    /// may be empty: 1 and 0); writes mean and rstd per row. Grid = rows. Overwrites y, mean, rstd.
    /// </summary>
    [Kernel]
    public static void ForwardAffineRows(
        // [rows, length]
        DeviceSpan<float> input,
        // [length] each, or empty
        DeviceSpan<float> weight, DeviceSpan<float> bias,
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
        {
            float y = (input[start + j] - m) * s;
            if (weight.Length != 0)
                y *= weight[j];
            if (bias.Length != 0)
                y += bias[j];
            output[start + j] = y;
        }
        if (Grid.ThreadX == 0)
        {
            mean[row] = m;
            rstd[row] = s;
        }
    }

    /// <summary>
    /// gradInput = rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) per row with ĝ = gradOutput · weight
    /// (weight may be empty) and x̂ recomputed from mean and rstd. Grid = rows. Overwrites gradInput.
    /// </summary>
    [Kernel]
    public static void BackwardAffineRows(
        // [rows, length] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> input,
        // [rows] each
        DeviceSpan<float> mean, DeviceSpan<float> rstd,
        // [length] or empty
        DeviceSpan<float> weight,
        int length,
        // [rows, length]
        DeviceSpan<float> gradInput)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        int row = Grid.BlockX;
        int start = row * length;
        float m = mean[row], s = rstd[row];
        double sum = 0, sumNormalized = 0;
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            float g = weight.Length == 0 ? gradOutput[start + j] : gradOutput[start + j] * weight[j];
            sum += g;
            sumNormalized += (double)g * ((input[start + j] - m) * s);
        }
        float meanGrad = (float)(BlockSum.Of(sum, scratch) / length);
        float meanGradNormalized = (float)(BlockSum.Of(sumNormalized, scratch) / length);
        for (int j = Grid.ThreadX; j < length; j += Grid.BlockDimX)
        {
            float g = weight.Length == 0 ? gradOutput[start + j] : gradOutput[start + j] * weight[j];
            gradInput[start + j] = s * (g - meanGrad - (input[start + j] - m) * s * meanGradNormalized);
        }
    }

    /// <summary>
    /// partials[0, j, split] = Σ gradOutput · x̂ and partials[1, j, split] = Σ gradOutput over the
    /// split's rows (rows split, split + splits, ...), in double. Grid (column blocks, splits):
    /// consecutive threads read consecutive columns.
    /// </summary>
    [Kernel]
    public static void AffineGradientPartial(
        // [rows, length] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> input,
        // [rows] each
        DeviceSpan<float> mean, DeviceSpan<float> rstd,
        int length,
        // [2, length, splits]
        DeviceSpan<double> partials)
    {
        int j = Grid.GlobalX;
        if (j >= length)
            return;
        int split = Grid.BlockY, splits = Grid.GridDimY;
        double sumNormalized = 0, sum = 0;
        for (int row = split; row < mean.Length; row += splits)
        {
            float g = gradOutput[row * length + j];
            sumNormalized += (double)g * ((input[row * length + j] - mean[row]) * rstd[row]);
            sum += g;
        }
        partials[j * splits + split] = sumNormalized;
        partials[(length + j) * splits + split] = sum;
    }

    /// <summary>gradWeight[j] and gradBias[j] = the column's partials added in split order (either view may be empty). Overwrites them.</summary>
    [Kernel]
    public static void AffineGradientFinish(
        // [2, length, splits]
        DeviceSpan<double> partials,
        int length, int splits,
        // [length] or empty, each
        DeviceSpan<float> gradWeight, DeviceSpan<float> gradBias)
    {
        if (!Elementwise.Index(length, out int j))
            return;
        double weightSum = 0, biasSum = 0;
        for (int s = 0; s < splits; s++)
        {
            weightSum += partials[j * splits + s];
            biasSum += partials[(length + j) * splits + s];
        }
        if (gradWeight.Length != 0)
            gradWeight[j] = (float)weightSum;
        if (gradBias.Length != 0)
            gradBias[j] = (float)biasSum;
    }

    /// <summary>Row splits of the weight/bias gradient: about 32 rows per split, at most <see cref="MaxRowSplits"/>.</summary>
    public static int RowSplits(int rows) => Math.Clamp((rows + 31) / 32, 1, MaxRowSplits);

    /// <summary>Launches <see cref="ForwardAffineRows"/>: one block per row.</summary>
    public static void ForwardAffine(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<float> weight, DeviceSpan<float> bias,
        int rows, int length, float eps, DeviceSpan<float> output, DeviceSpan<float> mean, DeviceSpan<float> rstd)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (rows == 0 || length == 0)
            return;
        launcher.Launch(typeof(LayerNorm).GetMethod(nameof(ForwardAffineRows))!, rows, BlockSum.BlockSizeFor(length),
            input, weight, bias, length, eps, output, mean, rstd);
    }

    /// <summary>Launches <see cref="BackwardAffineRows"/>: one block per row.</summary>
    public static void BackwardAffine(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> input, DeviceSpan<float> mean,
        DeviceSpan<float> rstd, DeviceSpan<float> weight, int rows, int length, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (rows == 0 || length == 0)
            return;
        launcher.Launch(typeof(LayerNorm).GetMethod(nameof(BackwardAffineRows))!, rows, BlockSum.BlockSizeFor(length),
            gradOutput, input, mean, rstd, weight, length, gradInput);
    }

    /// <summary>Weight and bias gradients with <paramref name="partials"/> of 2 · length · <see cref="RowSplits"/> doubles as scratch.</summary>
    public static void AffineGradients(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> input, DeviceSpan<float> mean,
        DeviceSpan<float> rstd, int rows, int length, DeviceSpan<double> partials, DeviceSpan<float> gradWeight, DeviceSpan<float> gradBias)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (length == 0)
            return;
        int splits = RowSplits(rows);
        if (partials.Length < 2 * length * splits)
            throw new ArgumentException($"layer-norm affine gradient: expected scratch of {2 * length * splits} doubles (RowSplits), found {partials.Length}", nameof(partials));
        const int block = 128;
        launcher.Launch(typeof(LayerNorm).GetMethod(nameof(AffineGradientPartial))!, new Dim3((length + block - 1) / block, splits), block,
            gradOutput, input, mean, rstd, length, partials);
        launcher.Launch(typeof(LayerNorm).GetMethod(nameof(AffineGradientFinish))!, (length + block - 1) / block, block,
            partials, length, splits, gradWeight, gradBias);
    }
}
