using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Cosine similarity along one dim of two same-shape dense tensors viewed as [outer, length, inner]:
/// out = Σ a·b / (na · nb) with na = max(||a||, eps), nb = max(||b||, eps); one warp per position,
/// the three sums in double. The backward is the CPU op's (whose norm gradient is x / n, with
/// PyTorch 1.13's leak below eps): ga = g / (na nb) · (b - a · Σab / na²), and symmetrically.
/// </summary>
public static class CosineSimilarity
{
    /// <summary>Threads per block (8 positions per block).</summary>
    public const int BlockSize = 256;

    /// <summary>output[position] and saved[3 · position + (0, 1, 2)] = (na, nb, Σ a·b). Overwrites both.</summary>
    [Kernel]
    public static void ForwardRows(
        // [outer, length, inner] each
        DeviceSpan<float> first, DeviceSpan<float> second,
        int length, int innerSize, float eps,
        // [outer, inner]
        DeviceSpan<float> output,
        // [outer, inner, 3]
        DeviceSpan<float> saved)
    {
        int position = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (position >= output.Length)
            return;
        int o = position / innerSize, i = position - o * innerSize;
        int start = o * length * innerSize + i;
        double aa = 0, bb = 0, ab = 0;
        for (int j = Warp.LaneId; j < length; j += Warp.Size)
        {
            double a = first[start + j * innerSize], b = second[start + j * innerSize];
            aa += a * a;
            bb += b * b;
            ab += a * b;
        }
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
        {
            aa += Warp.ShuffleXor(aa, mask);
            bb += Warp.ShuffleXor(bb, mask);
            ab += Warp.ShuffleXor(ab, mask);
        }
        if (Warp.LaneId != 0)
            return;
        float na = MathF.Max((float)Math.Sqrt(aa), eps), nb = MathF.Max((float)Math.Sqrt(bb), eps);
        output[position] = (float)(ab / ((double)na * nb));
        saved[3 * position] = na;
        saved[3 * position + 1] = nb;
        saved[3 * position + 2] = (float)ab;
    }

    /// <summary>Gradients of both inputs (either view may be empty: not wanted). Overwrites them.</summary>
    [Kernel]
    public static void BackwardRows(
        // [outer, length, inner] each
        DeviceSpan<float> first, DeviceSpan<float> second,
        // [outer, inner]
        DeviceSpan<float> gradOutput,
        // [outer, inner, 3]
        DeviceSpan<float> saved,
        int length, int innerSize,
        // [outer, length, inner] or empty, each
        DeviceSpan<float> gradFirst, DeviceSpan<float> gradSecond)
    {
        int position = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (position >= gradOutput.Length)
            return;
        int o = position / innerSize, i = position - o * innerSize;
        int start = o * length * innerSize + i;
        float na = saved[3 * position], nb = saved[3 * position + 1], ab = saved[3 * position + 2];
        float scale = gradOutput[position] / (na * nb);
        float firstCoefficient = ab / (na * na), secondCoefficient = ab / (nb * nb);
        for (int j = Warp.LaneId; j < length; j += Warp.Size)
        {
            int at = start + j * innerSize;
            float a = first[at], b = second[at];
            if (gradFirst.Length != 0)
                gradFirst[at] = scale * (b - a * firstCoefficient);
            if (gradSecond.Length != 0)
                gradSecond[at] = scale * (a - b * secondCoefficient);
        }
    }

    /// <summary>Launches <see cref="ForwardRows"/>.</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> first, DeviceSpan<float> second, int length, int innerSize, float eps,
        DeviceSpan<float> output, DeviceSpan<float> saved)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length == 0)
            return;
        launcher.Launch(typeof(CosineSimilarity).GetMethod(nameof(ForwardRows))!, Normalize.WarpGrid(output.Length), BlockSize,
            first, second, length, innerSize, eps, output, saved);
    }

    /// <summary>Launches <see cref="BackwardRows"/>.</summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> first, DeviceSpan<float> second, DeviceSpan<float> gradOutput,
        DeviceSpan<float> saved, int length, int innerSize, DeviceSpan<float> gradFirst, DeviceSpan<float> gradSecond)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (gradOutput.Length == 0 || (gradFirst.Length == 0 && gradSecond.Length == 0))
            return;
        launcher.Launch(typeof(CosineSimilarity).GetMethod(nameof(BackwardRows))!, Normalize.WarpGrid(gradOutput.Length), BlockSize,
            first, second, gradOutput, saved, length, innerSize, gradFirst, gradSecond);
    }
}
