using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Fused elementwise losses (<see cref="IPointwiseLoss"/>): the per-element losses, or their sum
/// (per-thread and per-block in double, blocks added in a fixed order) times a scale (1 for
/// sum, 1/count for mean), and the backward that writes both input and target gradients in
/// one pass.
/// </summary>
public static class PointwiseLoss
{
    /// <summary>Threads per block.</summary>
    public const int BlockSize = 256;

    /// <summary>Most blocks of the partial-sum pass.</summary>
    public const int MaxPartials = 256;

    /// <summary>output[i] = loss(input[i], target[i]). Grid-stride. Overwrites output.</summary>
    [Kernel]
    public static void Elements<TLoss>(
        TLoss loss,
        // [count] each
        DeviceSpan<float> input, DeviceSpan<float> target,
        // [count]
        DeviceSpan<float> output)
        where TLoss : struct, IPointwiseLoss
    {
        for (int i = Grid.GlobalX; i < output.Length; i += Grid.StrideX)
            output[i] = loss.Value(input[i], target[i]);
    }

    /// <summary>partials[block] = Σ loss over the block's grid-stride share, in double.</summary>
    [Kernel]
    public static void SumPartial<TLoss>(
        TLoss loss,
        // [count] each
        DeviceSpan<float> input, DeviceSpan<float> target,
        // [gridSize]
        DeviceSpan<double> partials)
        where TLoss : struct, IPointwiseLoss
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        double sum = 0;
        for (int i = Grid.GlobalX; i < input.Length; i += Grid.StrideX)
            sum += loss.Value(input[i], target[i]);
        sum = BlockSum.Of(sum, scratch);
        if (Grid.ThreadX == 0)
            partials[Grid.BlockX] = sum;
    }

    /// <summary>output[0] = (float)(Σ partials) · scale, the sum rounded to float first (as Mean = Sum · (1/count)). One block.</summary>
    [Kernel]
    public static void FinishSum(
        // [partialCount]
        DeviceSpan<double> partials,
        float scale,
        // [1]
        DeviceSpan<float> output)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        double sum = 0;
        for (int i = Grid.ThreadX; i < partials.Length; i += Grid.BlockDimX)
            sum += partials[i];
        sum = BlockSum.Of(sum, scratch);
        if (Grid.ThreadX == 0)
            output[0] = (float)sum * scale;
    }

    /// <summary>
    /// gradInput[i] = ∂loss/∂x · go and gradTarget[i] = ∂loss/∂t · go, with go = gradOutput[i] · scale
    /// when gradOutput has one value per element (reduction none: scale 1) and gradOutput[0] · scale
    /// otherwise (a reduced loss: 1 for sum, 1/count for mean). Either
    /// gradient view may be empty (not wanted). Grid-stride. Overwrites both.
    /// </summary>
    [Kernel]
    public static void Backward<TLoss>(
        TLoss loss,
        // [count] each
        DeviceSpan<float> input, DeviceSpan<float> target,
        // [1] or [count]
        DeviceSpan<float> gradOutput,
        float scale,
        // [count] or empty, each
        DeviceSpan<float> gradInput, DeviceSpan<float> gradTarget)
        where TLoss : struct, IPointwiseLoss
    {
        bool perElement = gradOutput.Length == input.Length;
        for (int i = Grid.GlobalX; i < input.Length; i += Grid.StrideX)
        {
            float go = (perElement ? gradOutput[i] : gradOutput[0]) * scale;
            float x = input[i], t = target[i];
            if (gradInput.Length != 0)
                gradInput[i] = loss.GradInput(x, t) * go;
            if (gradTarget.Length != 0)
                gradTarget[i] = loss.GradTarget(x, t) * go;
        }
    }

    /// <summary>Blocks of the partial-sum pass over <paramref name="count"/> elements (a partials buffer of this many doubles).</summary>
    public static int PartialCount(int count) => (int)Math.Clamp(((long)count + BlockSize * 8 - 1) / (BlockSize * 8), 1, MaxPartials);

    /// <summary>Per-element losses into <paramref name="output"/>.</summary>
    public static void LaunchElements<TLoss>(KernelLauncher launcher, TLoss loss, DeviceSpan<float> input, DeviceSpan<float> target, DeviceSpan<float> output)
        where TLoss : struct, IPointwiseLoss
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length == 0)
            return;
        launcher.Launch(Method(nameof(Elements), typeof(TLoss)), BatchNorm.GridFor(output.Length), BlockSize, loss, input, target, output);
    }

    /// <summary>output[0] = Σ loss · scale, with <paramref name="partials"/> of <see cref="PartialCount"/> doubles as scratch.</summary>
    public static void LaunchSum<TLoss>(KernelLauncher launcher, TLoss loss, DeviceSpan<float> input, DeviceSpan<float> target, float scale,
        DeviceSpan<double> partials, DeviceSpan<float> output)
        where TLoss : struct, IPointwiseLoss
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int blocks = PartialCount(input.Length);
        if (partials.Length < blocks)
            throw new ArgumentException($"loss sum: expected scratch of {blocks} doubles (PartialCount), found {partials.Length}", nameof(partials));
        launcher.Launch(Method(nameof(SumPartial), typeof(TLoss)), blocks, BlockSize, loss, input, target, partials.Slice(0, blocks));
        launcher.Launch(typeof(PointwiseLoss).GetMethod(nameof(FinishSum))!, 1, BlockSize, partials.Slice(0, blocks), scale, output);
    }

    /// <summary>Input and target gradients (either view may be empty).</summary>
    public static void LaunchBackward<TLoss>(KernelLauncher launcher, TLoss loss, DeviceSpan<float> input, DeviceSpan<float> target,
        DeviceSpan<float> gradOutput, float scale, DeviceSpan<float> gradInput, DeviceSpan<float> gradTarget)
        where TLoss : struct, IPointwiseLoss
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (input.Length == 0 || (gradInput.Length == 0 && gradTarget.Length == 0))
            return;
        launcher.Launch(Method(nameof(Backward), typeof(TLoss)), BatchNorm.GridFor(input.Length), BlockSize,
            loss, input, target, gradOutput, scale, gradInput, gradTarget);
    }

    private static System.Reflection.MethodInfo Method(string name, Type loss) =>
        typeof(PointwiseLoss).GetMethod(name)!.MakeGenericMethod(loss);
}
