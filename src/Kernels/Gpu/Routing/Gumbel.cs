using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Gumbel noise from Philox and the tempered softmax of gumbel_softmax on the GPU, over a tensor
/// viewed as [outer, size, inner] with the softmax along the middle dim (the CPU kernel's
/// layout and arithmetic: f32 logits, a double sum, the first maximum wins the hard one-hot).
/// One thread per softmax line: routing has few choices per line (size = number of units), so
/// a line fits one thread and neighbouring threads read neighbouring inner positions.
/// </summary>
public static class Gumbel
{
    /// <summary>
    /// noise[i] = -log(-log(u_i)) with u_i from lane i % 4 of Philox block firstBlock + i / 4 of
    /// seed (the layout of Generator and Kernels.Cpu.Gumbel.Noise, so the same seed and offset give
    /// the same noise as the CPU). One thread per Philox block; overwrites noise.
    /// </summary>
    [Kernel]
    public static void Noise(
        ulong seed,
        ulong firstBlock,
        // [count]
        DeviceSpan<float> noise)
    {
        int count = noise.Length;
        if (!Elementwise.Index((count + 3) / 4, out int b))
            return;
        GpuPhilox.Block(seed, firstBlock + (ulong)b, out uint x0, out uint x1, out uint x2, out uint x3);
        int i = b * 4;
        noise[i] = GpuPhilox.GumbelFromBits(x0);
        if (i + 1 < count) noise[i + 1] = GpuPhilox.GumbelFromBits(x1);
        if (i + 2 < count) noise[i + 2] = GpuPhilox.GumbelFromBits(x2);
        if (i + 3 < count) noise[i + 3] = GpuPhilox.GumbelFromBits(x3);
    }

    /// <summary>
    /// soft = softmax((logits + noise) / tau) along the middle dim; when hard is not empty it also
    /// receives the one-hot of the first maximum of each line. Overwrites soft (and hard). One
    /// thread per line (outer·inner threads).
    /// </summary>
    [Kernel]
    public static void SoftmaxForward(
        // [outer, size, inner] each
        DeviceSpan<float> logits,
        DeviceSpan<float> noise,
        int outer,
        int size,
        int inner,
        float tau,
        DeviceSpan<float> soft,
        DeviceSpan<float> hard)
    {
        if (!Elementwise.Index(outer * inner, out int line))
            return;
        float inverseTau = 1f / tau;
        int start = line / inner * size * inner + line % inner;
        float max = float.NegativeInfinity;
        for (int j = 0; j < size; j++)
        {
            int at = start + j * inner;
            float z = (logits[at] + noise[at]) * inverseTau;
            soft[at] = z;
            if (z > max || float.IsNaN(z)) max = z;
        }
        double sum = 0;
        for (int j = 0; j < size; j++)
        {
            int at = start + j * inner;
            float e = MathF.Exp(soft[at] - max);
            soft[at] = e;
            sum += e;
        }
        float inverseSum = (float)(1.0 / sum);
        int best = 0;
        float bestValue = float.NegativeInfinity;
        for (int j = 0; j < size; j++)
        {
            int at = start + j * inner;
            float p = soft[at] * inverseSum;
            soft[at] = p;
            if (j == 0)
            {
                bestValue = p;
            }
            else if (p > bestValue)
            {
                best = j;
                bestValue = p;
            }
        }
        if (hard.Length > 0)
            for (int j = 0; j < size; j++)
                hard[start + j * inner] = j == best ? 1f : 0f;
    }

    /// <summary>gradLogits = soft·(gradOutput - Σ gradOutput·soft) / tau along the middle dim (the dot in double). Overwrites gradLogits; one thread per line.</summary>
    [Kernel]
    public static void SoftmaxBackward(
        // [outer, size, inner] each
        DeviceSpan<float> soft,
        DeviceSpan<float> gradOutput,
        int outer,
        int size,
        int inner,
        float tau,
        DeviceSpan<float> gradLogits)
    {
        if (!Elementwise.Index(outer * inner, out int line))
            return;
        float inverseTau = 1f / tau;
        int start = line / inner * size * inner + line % inner;
        double dot = 0;
        for (int j = 0; j < size; j++)
        {
            int at = start + j * inner;
            dot += (double)soft[at] * gradOutput[at];
        }
        float weightedSum = (float)dot;
        for (int j = 0; j < size; j++)
        {
            int at = start + j * inner;
            gradLogits[at] = soft[at] * (gradOutput[at] - weightedSum) * inverseTau;
        }
    }
}
