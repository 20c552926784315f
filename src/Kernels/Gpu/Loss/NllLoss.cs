using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Negative log-likelihood over dense [batch, classes, inner] log-probabilities with int64 class
/// targets [batch, inner], the GPU side of <see cref="Cpu.NllLoss"/>, plus the target check the
/// host would otherwise do by copying every target back.
/// </summary>
public static class NllLoss
{
    /// <summary>Threads per block.</summary>
    public const int BlockSize = 256;

    /// <summary>
    /// firstInvalid[0] = min(firstInvalid[0], the smallest flat position whose target is neither
    /// in [0, classCount) nor ignoreIndex). The host sets it to int.MaxValue first.
    /// </summary>
    [Kernel]
    public static void FindInvalidTarget(
        // [batch, inner]
        DeviceSpan<long> target,
        int classCount, long ignoreIndex,
        // [1]
        DeviceSpan<int> firstInvalid)
    {
        for (int r = Grid.GlobalX; r < target.Length; r += Grid.StrideX)
        {
            long t = target[r];
            if (t != ignoreIndex && (t < 0 || t >= classCount))
                Atomic.Min(ref firstInvalid[0], r);
        }
    }

    /// <summary>
    /// loss[n, i] = -weight[t] · logProbs[n, t, i], targetWeight[n, i] = weight[t] (1 with an empty
    /// weight view), both 0 where t == ignoreIndex. Grid-stride over [batch, inner]. Overwrites both.
    /// </summary>
    [Kernel]
    public static void ForwardRows(
        // [batch, classes, inner]
        DeviceSpan<float> logProbs,
        // [batch, inner]
        DeviceSpan<long> target,
        // [classes] or empty
        DeviceSpan<float> weight,
        int classCount, int innerSize, long ignoreIndex,
        // [batch, inner] each
        DeviceSpan<float> loss, DeviceSpan<float> targetWeight)
    {
        for (int r = Grid.GlobalX; r < target.Length; r += Grid.StrideX)
        {
            long t = target[r];
            if (t == ignoreIndex)
            {
                loss[r] = 0f;
                targetWeight[r] = 0f;
                continue;
            }
            int n = r / innerSize, i = r - n * innerSize;
            int c = (int)t;
            float w = weight.Length == 0 ? 1f : weight[c];
            loss[r] = -w * logProbs[(n * classCount + c) * innerSize + i];
            targetWeight[r] = w;
        }
    }

    /// <summary>
    /// gradLogProbs[n, t, i] = -targetWeight[n, i] · gradLoss[n, i] at the target class; other
    /// entries are left as they are (zero them first). Grid-stride over [batch, inner].
    /// </summary>
    [Kernel]
    public static void BackwardRows(
        // [batch, inner] each
        DeviceSpan<float> gradLoss, DeviceSpan<float> targetWeight,
        DeviceSpan<long> target,
        int classCount, int innerSize, long ignoreIndex,
        // [batch, classes, inner], zeroed
        DeviceSpan<float> gradLogProbs)
    {
        for (int r = Grid.GlobalX; r < target.Length; r += Grid.StrideX)
        {
            long t = target[r];
            if (t == ignoreIndex)
                continue;
            int n = r / innerSize, i = r - n * innerSize;
            gradLogProbs[(n * classCount + (int)t) * innerSize + i] = -targetWeight[r] * gradLoss[r];
        }
    }

    /// <summary>Launches <see cref="FindInvalidTarget"/> (<paramref name="firstInvalid"/> must hold int.MaxValue).</summary>
    public static void CheckTargets(KernelLauncher launcher, DeviceSpan<long> target, int classCount, long ignoreIndex, DeviceSpan<int> firstInvalid)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (target.Length == 0)
            return;
        launcher.Launch(typeof(NllLoss).GetMethod(nameof(FindInvalidTarget))!, BatchNorm.GridFor(target.Length), BlockSize, target, classCount, ignoreIndex, firstInvalid);
    }

    /// <summary>Launches <see cref="ForwardRows"/>.</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> logProbs, DeviceSpan<long> target, DeviceSpan<float> weight,
        int classCount, int innerSize, long ignoreIndex, DeviceSpan<float> loss, DeviceSpan<float> targetWeight)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (target.Length == 0)
            return;
        launcher.Launch(typeof(NllLoss).GetMethod(nameof(ForwardRows))!, BatchNorm.GridFor(target.Length), BlockSize,
            logProbs, target, weight, classCount, innerSize, ignoreIndex, loss, targetWeight);
    }

    /// <summary>Launches <see cref="BackwardRows"/> (gradLogProbs zeroed by the caller).</summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> gradLoss, DeviceSpan<float> targetWeight, DeviceSpan<long> target,
        int classCount, int innerSize, long ignoreIndex, DeviceSpan<float> gradLogProbs)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (target.Length == 0)
            return;
        launcher.Launch(typeof(NllLoss).GetMethod(nameof(BackwardRows))!, BatchNorm.GridFor(target.Length), BlockSize,
            gradLoss, targetWeight, target, classCount, innerSize, ignoreIndex, gradLogProbs);
    }
}
