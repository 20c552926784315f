using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Cross entropy with int64 class targets fused into one pass over the logits (the CPU op
/// composes log-softmax, NLL and the smoothing term): per position (n, i) of
/// [batch, classes, inner] logits, lse = log Σ_c exp(x_c), and
/// loss = (1 - ε) · w_t (lse - x_t) + (ε / C) · Σ_c w_c (lse - x_c), 0 where t is ignored;
/// targetWeight = w_t (0 where ignored). One warp per position, lanes over the classes.
/// </summary>
public static class CrossEntropy
{
    /// <summary>Threads per block (8 positions per block).</summary>
    public const int BlockSize = 256;

    /// <summary>Reduction codes of the kernels.</summary>
    public const int ReductionNone = 0, ReductionMean = 1, ReductionSum = 2;

    /// <summary>
    /// loss, targetWeight and logSumExp per position (the last for the backward). Targets must
    /// have been checked (<see cref="NllLoss.CheckTargets"/>). Overwrites all three.
    /// </summary>
    [Kernel]
    public static void ForwardRows(
        // [batch, classes, inner]
        DeviceSpan<float> logits,
        // [batch, inner]
        DeviceSpan<long> target,
        // [classes] or empty
        DeviceSpan<float> weight,
        int classCount, int innerSize, long ignoreIndex, float labelSmoothing,
        // [batch, inner] each
        DeviceSpan<float> loss, DeviceSpan<float> targetWeight, DeviceSpan<float> logSumExp)
    {
        int position = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (position >= target.Length)
            return;
        int lane = Warp.LaneId;
        int n = position / innerSize, i = position - n * innerSize;
        int start = n * classCount * innerSize + i;
        float max = float.NegativeInfinity;
        for (int c = lane; c < classCount; c += Warp.Size)
            max = MathF.Max(max, logits[start + c * innerSize]);
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            max = MathF.Max(max, Warp.ShuffleXor(max, mask));
        float sum = 0f;
        for (int c = lane; c < classCount; c += Warp.Size)
            sum += MathF.Exp(logits[start + c * innerSize] - max);
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            sum += Warp.ShuffleXor(sum, mask);
        float lse = max + MathF.Log(sum);
        // Σ_c w_c (lse - x_c) for the smoothing term
        float smooth = 0f;
        if (labelSmoothing != 0f)
        {
            for (int c = lane; c < classCount; c += Warp.Size)
                smooth += (weight.Length == 0 ? 1f : weight[c]) * (lse - logits[start + c * innerSize]);
            for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
                smooth += Warp.ShuffleXor(smooth, mask);
        }
        if (lane != 0)
            return;
        logSumExp[position] = lse;
        long t = target[position];
        if (t == ignoreIndex)
        {
            loss[position] = 0f;
            targetWeight[position] = 0f;
            return;
        }
        int ct = (int)t;
        float w = weight.Length == 0 ? 1f : weight[ct];
        float nll = w * (lse - logits[start + ct * innerSize]);
        loss[position] = (1f - labelSmoothing) * nll + labelSmoothing / classCount * smooth;
        targetWeight[position] = w;
    }

    /// <summary>
    /// partials[0, block] = Σ loss, partials[1, block] = Σ targetWeight over the block's
    /// grid-stride share, in double. <see cref="PointwiseLoss.BlockSize"/> threads.
    /// </summary>
    [Kernel]
    public static void SumPartial(
        // [positions] each
        DeviceSpan<float> loss, DeviceSpan<float> targetWeight,
        // [2, gridSize]
        DeviceSpan<double> partials)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        double sum = 0, weights = 0;
        for (int r = Grid.GlobalX; r < loss.Length; r += Grid.StrideX)
        {
            sum += loss[r];
            weights += targetWeight[r];
        }
        sum = BlockSum.Of(sum, scratch);
        weights = BlockSum.Of(weights, scratch);
        if (Grid.ThreadX == 0)
        {
            partials[Grid.BlockX] = sum;
            partials[Grid.GridDimX + Grid.BlockX] = weights;
        }
    }

    /// <summary>
    /// totals[1] = (float)Σ targetWeight and totals[0] = (float)Σ loss, divided by totals[1] for
    /// the mean (NaN when every target is ignored, as in PyTorch). One block.
    /// </summary>
    [Kernel]
    public static void FinishSum(
        // [2, partialCount]
        DeviceSpan<double> partials,
        int partialCount, int reduction,
        // [2]
        DeviceSpan<float> totals)
    {
        DeviceSpan<double> scratch = Shared.Allocate<double>(32);
        double sum = 0, weights = 0;
        for (int b = Grid.ThreadX; b < partialCount; b += Grid.BlockDimX)
        {
            sum += partials[b];
            weights += partials[partialCount + b];
        }
        sum = BlockSum.Of(sum, scratch);
        weights = BlockSum.Of(weights, scratch);
        if (Grid.ThreadX == 0)
        {
            float total = (float)sum, weightTotal = (float)weights;
            totals[0] = reduction == ReductionMean ? total / weightTotal : total;
            totals[1] = weightTotal;
        }
    }

    /// <summary>
    /// gradLogits[n, c, i] = go · ((1 - ε) · w_t · (p_c - [c = t]) + (ε / C) · (W · p_c - w_c)),
    /// p = softmax, W = Σ_c w_c, go = gradOutput[r] (none), gradOutput[0] (sum) or
    /// gradOutput[0] / totals[1] (mean); 0 for ignored positions. One warp per position. Overwrites gradLogits.
    /// </summary>
    [Kernel]
    public static void BackwardRows(
        // [batch, classes, inner]
        DeviceSpan<float> logits,
        // [batch, inner]
        DeviceSpan<long> target,
        // [classes] or empty
        DeviceSpan<float> weight,
        // [batch, inner] each
        DeviceSpan<float> targetWeight, DeviceSpan<float> logSumExp,
        // [batch, inner] (none) or [1]
        DeviceSpan<float> gradOutput,
        // [2] from FinishSum (read for the mean)
        DeviceSpan<float> totals,
        int classCount, int innerSize, long ignoreIndex, float labelSmoothing, int reduction,
        // [batch, classes, inner]
        DeviceSpan<float> gradLogits)
    {
        int position = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (position >= target.Length)
            return;
        int lane = Warp.LaneId;
        int n = position / innerSize, i = position - n * innerSize;
        int start = n * classCount * innerSize + i;
        long t = target[position];
        if (t == ignoreIndex)
        {
            for (int c = lane; c < classCount; c += Warp.Size)
                gradLogits[start + c * innerSize] = 0f;
            return;
        }
        float go = reduction == ReductionNone ? gradOutput[position] : reduction == ReductionMean ? gradOutput[0] / totals[1] : gradOutput[0];
        float weightSum = 0f;
        if (labelSmoothing != 0f)
        {
            for (int c = lane; c < classCount; c += Warp.Size)
                weightSum += weight.Length == 0 ? 1f : weight[c];
            for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
                weightSum += Warp.ShuffleXor(weightSum, mask);
        }
        float wt = targetWeight[position], lse = logSumExp[position];
        float hard = (1f - labelSmoothing) * wt, soft = labelSmoothing / classCount;
        for (int c = lane; c < classCount; c += Warp.Size)
        {
            float p = MathF.Exp(logits[start + c * innerSize] - lse);
            float wc = weight.Length == 0 ? 1f : weight[c];
            float grad = hard * (c == t ? p - 1f : p) + soft * (weightSum * p - wc);
            gradLogits[start + c * innerSize] = go * grad;
        }
    }

    /// <summary>Launches <see cref="ForwardRows"/>.</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> logits, DeviceSpan<long> target, DeviceSpan<float> weight,
        int classCount, int innerSize, long ignoreIndex, float labelSmoothing,
        DeviceSpan<float> loss, DeviceSpan<float> targetWeight, DeviceSpan<float> logSumExp)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (target.Length == 0)
            return;
        launcher.Launch(typeof(CrossEntropy).GetMethod(nameof(ForwardRows))!, WarpGrid(target.Length), BlockSize,
            logits, target, weight, classCount, innerSize, ignoreIndex, labelSmoothing, loss, targetWeight, logSumExp);
    }

    /// <summary>totals = [reduced loss, Σ targetWeight] with <paramref name="partials"/> of 2 · <see cref="PointwiseLoss.PartialCount"/> doubles.</summary>
    public static void Reduce(KernelLauncher launcher, DeviceSpan<float> loss, DeviceSpan<float> targetWeight, int reduction,
        DeviceSpan<double> partials, DeviceSpan<float> totals)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int blocks = PointwiseLoss.PartialCount(loss.Length);
        if (partials.Length < 2 * blocks)
            throw new ArgumentException($"cross-entropy sum: expected scratch of {2 * blocks} doubles, found {partials.Length}", nameof(partials));
        launcher.Launch(typeof(CrossEntropy).GetMethod(nameof(SumPartial))!, blocks, PointwiseLoss.BlockSize, loss, targetWeight, partials.Slice(0, 2 * blocks));
        launcher.Launch(typeof(CrossEntropy).GetMethod(nameof(FinishSum))!, 1, PointwiseLoss.BlockSize, partials.Slice(0, 2 * blocks), blocks, reduction, totals);
    }

    /// <summary>Launches <see cref="BackwardRows"/>.</summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> logits, DeviceSpan<long> target, DeviceSpan<float> weight,
        DeviceSpan<float> targetWeight, DeviceSpan<float> logSumExp, DeviceSpan<float> gradOutput, DeviceSpan<float> totals,
        int classCount, int innerSize, long ignoreIndex, float labelSmoothing, int reduction, DeviceSpan<float> gradLogits)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (target.Length == 0)
            return;
        launcher.Launch(typeof(CrossEntropy).GetMethod(nameof(BackwardRows))!, WarpGrid(target.Length), BlockSize,
            logits, target, weight, targetWeight, logSumExp, gradOutput, totals, classCount, innerSize, ignoreIndex, labelSmoothing, reduction, gradLogits);
    }

    private static int WarpGrid(int positions) => (positions + BlockSize / 32 - 1) / (BlockSize / 32);
}
