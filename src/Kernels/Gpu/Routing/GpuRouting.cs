using System.Reflection;
using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Host side of the routing kernels (<see cref="Gumbel"/>, <see cref="RoutedCombine"/>,
/// <see cref="Dropout"/>): grid sizes and launches. Contracts as the CPU kernels of the same names.
/// </summary>
public static class GpuRouting
{
    private const int Threads = 256;
    private static readonly MethodInfo s_noise = typeof(Gumbel).GetMethod(nameof(Gumbel.Noise))!;
    private static readonly MethodInfo s_softmaxForward = typeof(Gumbel).GetMethod(nameof(Gumbel.SoftmaxForward))!;
    private static readonly MethodInfo s_softmaxBackward = typeof(Gumbel).GetMethod(nameof(Gumbel.SoftmaxBackward))!;
    private static readonly MethodInfo s_combine = typeof(RoutedCombine).GetMethod(nameof(RoutedCombine.Combine))!;
    private static readonly MethodInfo s_gradUnits = typeof(RoutedCombine).GetMethod(nameof(RoutedCombine.GradUnits))!;
    private static readonly MethodInfo s_gradWeights = typeof(RoutedCombine).GetMethod(nameof(RoutedCombine.GradWeights))!;
    private static readonly MethodInfo s_mask = typeof(Dropout).GetMethod(nameof(Dropout.BernoulliMask))!;

    private static int Blocks(long threads) => (int)((threads + Threads - 1) / Threads);

    private static void Run(KernelLauncher launcher, MethodInfo kernel, Dim3 grid, Dim3 block, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        launcher.Launch(KernelCompiler.Compile(kernel, launcher.Target), grid, block, 0, arguments);
    }

    /// <summary>Gumbel noise for Philox blocks firstBlock… of seed (reserve them with Generator.Reserve(noise.Length)). Overwrites noise.</summary>
    public static void GumbelNoise(KernelLauncher launcher, ulong seed, ulong firstBlock, DeviceSpan<float> noise)
    {
        if (noise.Length > 0)
            Run(launcher, s_noise, Blocks((noise.Length + 3) / 4), Threads, seed, firstBlock, noise);
    }

    /// <summary>Dropout keep-mask (scale where kept, 0 elsewhere) for Philox blocks firstBlock… of seed. Overwrites mask.</summary>
    public static void BernoulliMask(KernelLauncher launcher, ulong seed, ulong firstBlock, float keepProbability, float scale, DeviceSpan<float> mask)
    {
        if (mask.Length > 0)
            Run(launcher, s_mask, Blocks((mask.Length + 3) / 4), Threads, seed, firstBlock, keepProbability, scale, mask);
    }

    /// <summary>soft (and hard, when not empty) of gumbel_softmax over [outer, size, inner]. Overwrites both.</summary>
    public static void GumbelSoftmaxForward(KernelLauncher launcher, DeviceSpan<float> logits, DeviceSpan<float> noise,
        int outer, int size, int inner, float tau, DeviceSpan<float> soft, DeviceSpan<float> hard)
    {
        if ((long)outer * inner > 0 && size > 0)
            Run(launcher, s_softmaxForward, Blocks((long)outer * inner), Threads, logits, noise, outer, size, inner, tau, soft, hard);
    }

    /// <summary>gradLogits of gumbel_softmax from the soft sample. Overwrites gradLogits.</summary>
    public static void GumbelSoftmaxBackward(KernelLauncher launcher, DeviceSpan<float> soft, DeviceSpan<float> gradOutput,
        int outer, int size, int inner, float tau, DeviceSpan<float> gradLogits)
    {
        if ((long)outer * inner > 0 && size > 0)
            Run(launcher, s_softmaxBackward, Blocks((long)outer * inner), Threads, soft, gradOutput, outer, size, inner, tau, gradLogits);
    }

    /// <summary>
    /// output = (accumulate ? output : 0) + Σ units[kk]·weights[:, firstUnit + kk] for the
    /// units [unitsInView, rowCount, rowLength] of the view.
    /// </summary>
    public static void Combine(KernelLauncher launcher, DeviceSpan<float> units, DeviceSpan<float> weights, int firstUnit, int unitsInView,
        int unitCount, int rowCount, int rowLength, bool accumulate, DeviceSpan<float> output)
    {
        long size = (long)rowCount * rowLength;
        if (size > 0)
            Run(launcher, s_combine, Blocks(size), Threads, units, weights, firstUnit, unitsInView, unitCount, rowCount, rowLength, accumulate ? 1 : 0, output);
    }

    /// <summary>gradUnits [unitsInView, rowCount, rowLength] = weights[:, firstUnit + kk]·gradOutput (overwrites; skipped when empty).</summary>
    public static void GradUnits(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> weights, int firstUnit,
        int unitCount, int rowCount, int rowLength, DeviceSpan<float> gradUnits)
    {
        if (gradUnits.Length > 0)
            Run(launcher, s_gradUnits, Blocks(gradUnits.Length), Threads, gradOutput, weights, firstUnit, unitCount, rowCount, rowLength, gradUnits);
    }

    /// <summary>gradWeights[row, firstUnit + kk] = gradOutput[row]·units[kk][row] for the units of the view (overwrites those columns).</summary>
    public static void GradWeights(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> units, int firstUnit, int unitsInView,
        int unitCount, int rowCount, int rowLength, DeviceSpan<float> gradWeights)
    {
        if (rowCount > 0 && unitsInView > 0)
            Run(launcher, s_gradWeights, new Dim3(rowCount, unitsInView), RoutedCombine.ReduceThreads,
                gradOutput, units, firstUnit, unitCount, rowCount, rowLength, gradWeights);
    }
}
