using System.Runtime.CompilerServices;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Bernoulli keep-masks from the counter-based Philox stream: element i uses lane i % 4 of block
/// firstBlock + i / 4, so the mask depends only on (seed, firstBlock), never on the thread count.
/// </summary>
public static unsafe class Dropout
{
    /// <summary>
    /// mask[i] = scale when uniform_i &lt; keepProbability, else 0 (uniform_i in [0, 1) from 24 bits,
    /// so keepProbability 1 keeps everything and 0 nothing). Overwrites mask.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BernoulliMask(
        ulong seed, ulong firstBlock,
        float keepProbability, float scale, int count,
        float* mask)               // [count]
    {
        CpuParallel.ForCost((count + 3) / 4, 40, (from, to) =>
        {
            for (int b = from; b < to; b++)
            {
                var (x0, x1, x2, x3) = Philox.Block(seed, firstBlock + (ulong)b);
                int i = b * 4;
                mask[i] = Philox.ToUniform(x0) < keepProbability ? scale : 0f;
                if (i + 1 < count) mask[i + 1] = Philox.ToUniform(x1) < keepProbability ? scale : 0f;
                if (i + 2 < count) mask[i + 2] = Philox.ToUniform(x2) < keepProbability ? scale : 0f;
                if (i + 3 < count) mask[i + 3] = Philox.ToUniform(x3) < keepProbability ? scale : 0f;
            }
        });
    }
}
