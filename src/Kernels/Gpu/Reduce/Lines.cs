using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Dense data seen as [outer, length, inner] and reduced along the middle dim: line l (one per
/// (outer, inner) pair) holds the elements base + k·inner, k &lt; length. Rows of a reduction are
/// lines with inner = 1.
/// </summary>
public struct LineLayout
{
    public int LineCount;
    public int Length;
    public int Inner;

    public LineLayout(int outerSize, int length, int innerSize)
    {
        LineCount = outerSize * innerSize;
        Length = length;
        Inner = innerSize;
    }

    /// <summary>Element offset of the first element of line <paramref name="line"/>.</summary>
    public readonly int Start(int line) => Inner == 1 ? line * Length : line / Inner * Length * Inner + line % Inner;
}

/// <summary>
/// Reductions across the threads that share a line. A block is (threadsPerLine, linesPerBlock):
/// threadsPerLine is a power of two; up to a warp it is a group of lanes (butterfly shuffles),
/// above a warp the block holds one line and the warps meet in shared memory. Every thread of
/// the block must call these (threads past the last line pass a neutral value), since they
/// shuffle and may wait at barriers.
/// </summary>
public static class LineReduction
{
    /// <summary>Shared floats a block needs for <see cref="Sum"/>/<see cref="Max"/>: one per warp.</summary>
    public const int ScratchSize = 32;

    /// <summary>The line this thread works on and its lane within the line.</summary>
    public static int Line => Grid.BlockX * Grid.BlockDimY + Grid.ThreadY;

    public static float Sum(float value, DeviceSpan<float> scratch)
    {
        int width = Math.Min(Grid.BlockDimX, Warp.Size);
        for (int mask = width >> 1; mask > 0; mask >>= 1)
            value += Warp.ShuffleXor(value, mask);
        if (Grid.BlockDimX > Warp.Size)
        {
            if (Warp.LaneId == 0)
                scratch[Grid.ThreadX / Warp.Size] = value;
            Block.Barrier();
            value = Warp.LaneId < Grid.BlockDimX / Warp.Size ? scratch[Warp.LaneId] : 0f;
            for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
                value += Warp.ShuffleXor(value, mask);
            Block.Barrier();
        }
        return value;
    }

    /// <summary>NaN-propagating maximum across the line's threads.</summary>
    public static float Max(float value, DeviceSpan<float> scratch)
    {
        int width = Math.Min(Grid.BlockDimX, Warp.Size);
        for (int mask = width >> 1; mask > 0; mask >>= 1)
            value = MathF.Max(value, Warp.ShuffleXor(value, mask));
        if (Grid.BlockDimX > Warp.Size)
        {
            if (Warp.LaneId == 0)
                scratch[Grid.ThreadX / Warp.Size] = value;
            Block.Barrier();
            value = Warp.LaneId < Grid.BlockDimX / Warp.Size ? scratch[Warp.LaneId] : float.NegativeInfinity;
            for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
                value = MathF.Max(value, Warp.ShuffleXor(value, mask));
            Block.Barrier();
        }
        return value;
    }

    /// <summary>
    /// Whether (value, index) beats (bestValue, bestIndex) for an arg-max (or arg-min): NaN wins,
    /// then the larger (smaller) value, then the smaller index, so the first extreme wins as on the CPU.
    /// </summary>
    public static bool Beats(float value, int index, float bestValue, int bestIndex, bool max)
    {
        bool nan = float.IsNaN(value), bestNan = float.IsNaN(bestValue);
        if (nan || bestNan)
            return nan && (!bestNan || index < bestIndex);
        if (value == bestValue)
            return index < bestIndex;
        return max ? value > bestValue : value < bestValue;
    }

    /// <summary>Arg-max (or arg-min) across the line's threads; every thread gets the winner.</summary>
    public static ArgBest Extreme(ArgBest best, bool max, DeviceSpan<float> scratchValues, DeviceSpan<int> scratchIndices)
    {
        float value = best.Value;
        int index = best.Index;
        int width = Math.Min(Grid.BlockDimX, Warp.Size);
        for (int mask = width >> 1; mask > 0; mask >>= 1)
        {
            float otherValue = Warp.ShuffleXor(value, mask);
            int otherIndex = Warp.ShuffleXor(index, mask);
            if (Beats(otherValue, otherIndex, value, index, max))
            {
                value = otherValue;
                index = otherIndex;
            }
        }
        if (Grid.BlockDimX > Warp.Size)
        {
            if (Warp.LaneId == 0)
            {
                scratchValues[Grid.ThreadX / Warp.Size] = value;
                scratchIndices[Grid.ThreadX / Warp.Size] = index;
            }
            Block.Barrier();
            bool present = Warp.LaneId < Grid.BlockDimX / Warp.Size;
            value = present ? scratchValues[Warp.LaneId] : max ? float.NegativeInfinity : float.PositiveInfinity;
            index = present ? scratchIndices[Warp.LaneId] : int.MaxValue;
            for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            {
                float otherValue = Warp.ShuffleXor(value, mask);
                int otherIndex = Warp.ShuffleXor(index, mask);
                if (Beats(otherValue, otherIndex, value, index, max))
                {
                    value = otherValue;
                    index = otherIndex;
                }
            }
            Block.Barrier();
        }
        return new ArgBest { Value = value, Index = index };
    }
}

/// <summary>A candidate of an arg-max/arg-min: the value and its position along the line.</summary>
public struct ArgBest
{
    public float Value;
    public int Index;
}
