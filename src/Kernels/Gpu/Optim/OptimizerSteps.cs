using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Fused optimiser updates, one kernel launch per parameter tensor, with the float operations
/// in the order of the CPU loops of Models.Optim.Sgd and AdamW (the compiler does not contract
/// a·b + c into an FMA, so the device results equal the CPU's bit for bit); and the pieces of
/// gradient-norm clipping (sum of squares, in-place scale).
/// </summary>
public static class OptimizerSteps
{
    /// <summary>Threads per block.</summary>
    public const int BlockSize = 256;

    /// <summary>Most partial sums one gradient's sum of squares writes.</summary>
    public const int MaxPartials = 64;

    /// <summary>
    /// SGD: d = g + decay·p; without momentum p -= lr·d; with momentum buffer = first ? d :
    /// momentum·buffer + (1 - dampening)·d and p -= lr·(nesterov ? d + momentum·buffer : buffer).
    /// Updates parameter and buffer in place (buffer may be empty without momentum).
    /// </summary>
    [Kernel]
    public static void SgdStep(
        // [count] each
        DeviceSpan<float> parameter, DeviceSpan<float> gradient, DeviceSpan<float> momentumBuffer,
        float learningRate, float weightDecay, float momentum, float dampening, int nesterov, int firstStep)
    {
        float keep = 1f - dampening;
        for (int i = Grid.GlobalX; i < parameter.Length; i += Grid.StrideX)
        {
            float p = parameter[i];
            float d = gradient[i] + weightDecay * p;
            if (momentum == 0f)
            {
                parameter[i] = p - learningRate * d;
                continue;
            }
            float buffer = firstStep != 0 ? d : momentum * momentumBuffer[i] + keep * d;
            momentumBuffer[i] = buffer;
            parameter[i] = p - learningRate * (nesterov != 0 ? d + momentum * buffer : buffer);
        }
    }

    /// <summary>
    /// AdamW: p *= decay; m = β1·m + (1 - β1)·g; v = β2·v + (1 - β2)·g·g;
    /// p -= stepSize·m / (sqrt(v) / sqrtCorrection2 + eps), with stepSize = lr / (1 - β1^step) and
    /// sqrtCorrection2 = sqrt(1 - β2^step) computed on the host in double as the CPU does.
    /// Updates parameter and both moments in place.
    /// </summary>
    [Kernel]
    public static void AdamWStep(
        // [count] each
        DeviceSpan<float> parameter, DeviceSpan<float> gradient, DeviceSpan<float> firstMoment, DeviceSpan<float> secondMoment,
        float decay, float beta1, float beta2, float stepSize, float sqrtCorrection2, float eps)
    {
        float oneMinusBeta1 = 1f - beta1, oneMinusBeta2 = 1f - beta2;
        for (int i = Grid.GlobalX; i < parameter.Length; i += Grid.StrideX)
        {
            float g = gradient[i];
            float p = parameter[i] * decay;
            float m = beta1 * firstMoment[i] + oneMinusBeta1 * g;
            float v = beta2 * secondMoment[i] + oneMinusBeta2 * g * g;
            firstMoment[i] = m;
            secondMoment[i] = v;
            float denominator = MathF.Sqrt(v) / sqrtCorrection2 + eps;
            parameter[i] = p - stepSize * m / denominator;
        }
    }

    /// <summary>partials[offset + block] = Σ g² over the block's grid-stride share, in double.</summary>
    [Kernel]
    public static void SumSquaresPartial(
        // [count]
        DeviceSpan<float> gradient,
        int offset,
        // [total partials of every gradient]
        DeviceSpan<double> partials)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        double sum = 0;
        for (int i = Grid.GlobalX; i < gradient.Length; i += Grid.StrideX)
        {
            double v = gradient[i];
            sum += v * v;
        }
        sum = BlockSum.Of(sum, scratch);
        if (Grid.ThreadX == 0)
            partials[offset + Grid.BlockX] = sum;
    }

    /// <summary>total[0] = Σ partials (one block, fixed order).</summary>
    [Kernel]
    public static void SumPartials(
        // [count]
        DeviceSpan<double> partials,
        // [1]
        DeviceSpan<double> total)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        double sum = 0;
        for (int i = Grid.ThreadX; i < partials.Length; i += Grid.BlockDimX)
            sum += partials[i];
        sum = BlockSum.Of(sum, scratch);
        if (Grid.ThreadX == 0)
            total[0] = sum;
    }

    /// <summary>values[i] *= factor. Grid-stride, in place.</summary>
    [Kernel]
    public static void ScaleInPlace(
        // [count]
        DeviceSpan<float> values,
        float factor)
    {
        for (int i = Grid.GlobalX; i < values.Length; i += Grid.StrideX)
            values[i] *= factor;
    }

    /// <summary>One SGD update of a parameter (see <see cref="SgdStep"/>).</summary>
    public static void Sgd(KernelLauncher launcher, DeviceSpan<float> parameter, DeviceSpan<float> gradient, DeviceSpan<float> momentumBuffer,
        float learningRate, float weightDecay, float momentum, float dampening, bool nesterov, bool firstStep)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (parameter.Length == 0)
            return;
        launcher.Launch(typeof(OptimizerSteps).GetMethod(nameof(SgdStep))!, BatchNorm.GridFor(parameter.Length), BlockSize,
            parameter, gradient, momentumBuffer, learningRate, weightDecay, momentum, dampening, nesterov ? 1 : 0, firstStep ? 1 : 0);
    }

    /// <summary>One AdamW update of a parameter (see <see cref="AdamWStep"/>).</summary>
    public static void AdamW(KernelLauncher launcher, DeviceSpan<float> parameter, DeviceSpan<float> gradient, DeviceSpan<float> firstMoment,
        DeviceSpan<float> secondMoment, float decay, float beta1, float beta2, float stepSize, float sqrtCorrection2, float eps)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (parameter.Length == 0)
            return;
        launcher.Launch(typeof(OptimizerSteps).GetMethod(nameof(AdamWStep))!, BatchNorm.GridFor(parameter.Length), BlockSize,
            parameter, gradient, firstMoment, secondMoment, decay, beta1, beta2, stepSize, sqrtCorrection2, eps);
    }

    /// <summary>Partial sums a gradient of <paramref name="count"/> elements writes (its slice of the partials buffer).</summary>
    public static int PartialCount(int count) => (int)Math.Clamp(((long)count + BlockSize * 16 - 1) / (BlockSize * 16), 1, MaxPartials);

    /// <summary>Writes Σ g² of one gradient into partials[offset, offset + PartialCount(g.Length)).</summary>
    public static void SumSquares(KernelLauncher launcher, DeviceSpan<float> gradient, DeviceSpan<double> partials, int offset)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int blocks = PartialCount(gradient.Length);
        if (offset < 0 || partials.Length < offset + blocks)
            throw new ArgumentException($"sum of squares: expected partials of at least {offset + blocks} doubles, found {partials.Length}", nameof(partials));
        launcher.Launch(typeof(OptimizerSteps).GetMethod(nameof(SumSquaresPartial))!, blocks, BlockSize, gradient, offset, partials);
    }

    /// <summary>total[0] = Σ partials.</summary>
    public static void Total(KernelLauncher launcher, DeviceSpan<double> partials, DeviceSpan<double> total)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        launcher.Launch(typeof(OptimizerSteps).GetMethod(nameof(SumPartials))!, 1, BlockSize, partials, total);
    }

    /// <summary>values *= factor in place.</summary>
    public static void Scale(KernelLauncher launcher, DeviceSpan<float> values, float factor)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (values.Length == 0)
            return;
        launcher.Launch(typeof(OptimizerSteps).GetMethod(nameof(ScaleInPlace))!, BatchNorm.GridFor(values.Length), BlockSize, values, factor);
    }
}
