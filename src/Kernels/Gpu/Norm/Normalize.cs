using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// L2 normalisation along one dim of dense data viewed as [outer, length, inner]:
/// y = x / max(||x||, eps), one warp per (outer, inner) position, lanes over the dim, sums in
/// double. The backward is the CPU composite's (x / clamp(norm(x), eps)) in closed form:
/// gx = g / n - (Σ g·x) / n² · x / ||x|| where ||x|| ≥ eps (the clamp passes the gradient),
/// and gx = g / n below it; 0 for the norm's part of a zero vector.
/// </summary>
public static class Normalize
{
    /// <summary>Threads per block (8 positions per block).</summary>
    public const int BlockSize = 256;

    /// <summary>y and norms[position] = ||x|| (unclamped). Overwrites both.</summary>
    [Kernel]
    public static void ForwardRows(
        // [outer, length, inner]
        DeviceSpan<float> input,
        int length, int innerSize, float eps,
        // [outer, length, inner]
        DeviceSpan<float> output,
        // [outer, inner]
        DeviceSpan<float> norms)
    {
        int position = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (position >= norms.Length)
            return;
        int o = position / innerSize, i = position - o * innerSize;
        int start = o * length * innerSize + i;
        double squares = 0;
        for (int j = Warp.LaneId; j < length; j += Warp.Size)
        {
            double v = input[start + j * innerSize];
            squares += v * v;
        }
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            squares += Warp.ShuffleXor(squares, mask);
        float norm = (float)Math.Sqrt(squares);
        float clamped = MathF.Max(norm, eps);
        for (int j = Warp.LaneId; j < length; j += Warp.Size)
            output[start + j * innerSize] = input[start + j * innerSize] / clamped;
        if (Warp.LaneId == 0)
            norms[position] = norm;
    }

    /// <summary>gradInput from gradOutput, the input and the saved norms. Overwrites gradInput.</summary>
    [Kernel]
    public static void BackwardRows(
        // [outer, length, inner] each
        DeviceSpan<float> gradOutput, DeviceSpan<float> input,
        // [outer, inner]
        DeviceSpan<float> norms,
        int length, int innerSize, float eps,
        // [outer, length, inner]
        DeviceSpan<float> gradInput)
    {
        int position = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (position >= norms.Length)
            return;
        int o = position / innerSize, i = position - o * innerSize;
        int start = o * length * innerSize + i;
        float norm = norms[position];
        float clamped = MathF.Max(norm, eps);
        double dot = 0;
        for (int j = Warp.LaneId; j < length; j += Warp.Size)
            dot += (double)gradOutput[start + j * innerSize] * input[start + j * innerSize];
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            dot += Warp.ShuffleXor(dot, mask);
        // the coefficient of x: -(Σ g·x) / n² / ||x||, when the clamp and the norm pass a gradient
        float coefficient = norm >= eps && norm > 0f ? (float)(-dot / ((double)clamped * clamped * norm)) : 0f;
        for (int j = Warp.LaneId; j < length; j += Warp.Size)
        {
            int at = start + j * innerSize;
            gradInput[at] = gradOutput[at] / clamped + coefficient * input[at];
        }
    }

    /// <summary>Launches <see cref="ForwardRows"/> over outer · inner positions.</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> input, int length, int innerSize, float eps,
        DeviceSpan<float> output, DeviceSpan<float> norms)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (norms.Length == 0)
            return;
        launcher.Launch(typeof(Normalize).GetMethod(nameof(ForwardRows))!, WarpGrid(norms.Length), BlockSize, input, length, innerSize, eps, output, norms);
    }

    /// <summary>Launches <see cref="BackwardRows"/>.</summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> input, DeviceSpan<float> norms,
        int length, int innerSize, float eps, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (norms.Length == 0)
            return;
        launcher.Launch(typeof(Normalize).GetMethod(nameof(BackwardRows))!, WarpGrid(norms.Length), BlockSize, gradOutput, input, norms, length, innerSize, eps, gradInput);
    }

    internal static int WarpGrid(int positions) => (positions + BlockSize / 32 - 1) / (BlockSize / 32);
}
