using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>Bernoulli keep-masks for dropout and drop-path from the counter-based Philox stream, bit-identical to Kernels.Cpu.Dropout.</summary>
public static class Dropout
{
    /// <summary>
    /// mask[i] = scale when uniform_i &lt; keepProbability, else 0, with uniform_i from lane i % 4
    /// of Philox block firstBlock + i / 4 of seed (24 random bits). One thread per Philox block;
    /// overwrites mask.
    /// </summary>
    [Kernel]
    public static void BernoulliMask(
        ulong seed,
        ulong firstBlock,
        float keepProbability,
        float scale,
        // [count]
        DeviceSpan<float> mask)
    {
        int count = mask.Length;
        if (!Elementwise.Index((count + 3) / 4, out int b))
            return;
        GpuPhilox.Block(seed, firstBlock + (ulong)b, out uint x0, out uint x1, out uint x2, out uint x3);
        int i = b * 4;
        mask[i] = GpuPhilox.ToUniform(x0) < keepProbability ? scale : 0f;
        if (i + 1 < count) mask[i + 1] = GpuPhilox.ToUniform(x1) < keepProbability ? scale : 0f;
        if (i + 2 < count) mask[i + 2] = GpuPhilox.ToUniform(x2) < keepProbability ? scale : 0f;
        if (i + 3 < count) mask[i + 3] = GpuPhilox.ToUniform(x3) < keepProbability ? scale : 0f;
    }
}
