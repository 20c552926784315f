using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// output[row, :] = Σ_k weights[row, k]·units[k][row, :] and its backward on the GPU. A launch
/// covers a contiguous run of units (all of them when they are stacked [K, rows, rowLength], one
/// when they are separate tensors, accumulating into output), so both overloads of the
/// Functional op share the kernels. Sums run over k in order with a separate multiply and add
/// (TensorPrimitives.MultiplyAdd's rounding), so the forward matches the CPU kernel bit for bit.
/// </summary>
public static class RoutedCombine
{
    /// <summary>Threads per block of <see cref="GradWeights"/>.</summary>
    public const int ReduceThreads = 128;

    /// <summary>
    /// output = (accumulate ? output : 0) + Σ_kk units[kk]·weights[:, firstUnit + kk] over the
    /// units in the view; one thread per output element.
    /// </summary>
    [Kernel]
    public static void Combine(
        // [unitsInView, rowCount, rowLength]
        DeviceSpan<float> units,
        // [rowCount, unitCount]
        DeviceSpan<float> weights,
        int firstUnit,
        int unitsInView,
        int unitCount,
        int rowCount,
        int rowLength,
        int accumulate,
        // [rowCount, rowLength]
        DeviceSpan<float> output)
    {
        int unitSize = rowCount * rowLength;
        if (!Elementwise.Index(unitSize, out int i))
            return;
        int row = i / rowLength;
        float sum = accumulate != 0 ? output[i] : 0f;
        for (int kk = 0; kk < unitsInView; kk++)
            sum = units[kk * unitSize + i] * weights[row * unitCount + firstUnit + kk] + sum;
        output[i] = sum;
    }

    /// <summary>gradUnits[kk] = weights[:, firstUnit + kk]·gradOutput for the units in the view (overwrites); one thread per element.</summary>
    [Kernel]
    public static void GradUnits(
        // [rowCount, rowLength]
        DeviceSpan<float> gradOutput,
        // [rowCount, unitCount]
        DeviceSpan<float> weights,
        int firstUnit,
        int unitCount,
        int rowCount,
        int rowLength,
        // [unitsInView, rowCount, rowLength]
        DeviceSpan<float> gradUnits)
    {
        if (!Elementwise.Index(gradUnits.Length, out int i))
            return;
        int unitSize = rowCount * rowLength;
        int kk = i / unitSize, within = i - kk * unitSize;
        gradUnits[i] = gradOutput[within] * weights[within / rowLength * unitCount + firstUnit + kk];
    }

    /// <summary>
    /// gradWeights[row, firstUnit + kk] = gradOutput[row]·units[kk][row] (overwrites): one block of
    /// <see cref="ReduceThreads"/> threads per (row, kk), grid (rowCount, unitsInView); strided
    /// partial sums, then a warp butterfly and a shared-memory step across the 4 warps.
    /// </summary>
    [Kernel]
    public static void GradWeights(
        // [rowCount, rowLength]
        DeviceSpan<float> gradOutput,
        // [unitsInView, rowCount, rowLength]
        DeviceSpan<float> units,
        int firstUnit,
        int unitCount,
        int rowCount,
        int rowLength,
        // [rowCount, unitCount]
        DeviceSpan<float> gradWeights)
    {
        DeviceSpan<float> warpSums = Shared.Allocate<float>(ReduceThreads / 32);
        int row = Grid.BlockX, kk = Grid.BlockY, thread = Grid.ThreadX;
        int rowStart = row * rowLength, unitStart = kk * rowCount * rowLength + rowStart;
        float sum = 0f;
        for (int c = thread; c < rowLength; c += ReduceThreads)
            sum += gradOutput[rowStart + c] * units[unitStart + c];
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            sum += Warp.ShuffleXor(sum, mask);
        if (Warp.LaneId == 0)
            warpSums[thread / Warp.Size] = sum;
        Block.Barrier();
        if (thread == 0)
        {
            float total = 0f;
            for (int w = 0; w < ReduceThreads / Warp.Size; w++)
                total += warpSums[w];
            gradWeights[row * unitCount + firstUnit + kk] = total;
        }
    }
}
