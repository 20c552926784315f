using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Nearest and bilinear resizing of [planes, height, width] on the GPU from the per-axis tables the
/// CPU op builds (<see cref="Cpu.Upsample2d.NearestIndices"/>, <see cref="Cpu.LinearAxis"/>), so
/// forward values are bit-identical. Backward passes gather: one thread per input element walks the
/// contiguous run of outputs that read it (source indices are non-decreasing, so each input index is
/// read by one run of outputs, given as [first, end) pairs by <see cref="Runs"/>) and adds in the CPU's order. Launch ceil(count / 256)
/// blocks of 256 threads.
/// </summary>
public static partial class GpuUpsample2d
{
    /// <summary>output[oh, ow] = input[rows[oh], columns[ow]]. Overwrites output.</summary>
    [Kernel]
    public static void NearestForward(
        // [planes, inHeight, inWidth]
        DeviceSpan<float> input,
        // [outHeight], [outWidth]
        DeviceSpan<int> rows, DeviceSpan<int> columns,
        int inHeight, int inWidth,
        // [planes, outHeight, outWidth]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int o))
            return;
        int outWidth = columns.Length, outPlane = rows.Length * outWidth;
        int plane = o / outPlane, at = o - plane * outPlane, oh = at / outWidth, ow = at - oh * outWidth;
        output[o] = input[(plane * inHeight + rows[oh]) * inWidth + columns[ow]];
    }

    /// <summary>gradInput[r, c] = Σ gradOutput over outputs (oh, ow) with rows[oh] = r and columns[ow] = c. Overwrites gradInput.</summary>
    [Kernel]
    public static void NearestBackward(
        // [planes, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        // [2 · inHeight]: outputs rowRuns[2r] … rowRuns[2r + 1] − 1 read input row r; likewise columns [2 · inWidth]
        DeviceSpan<int> rowRuns, DeviceSpan<int> columnRuns,
        int outHeight, int outWidth,
        // [planes, inHeight, inWidth]
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradInput.Length, out int index))
            return;
        int inWidth = columnRuns.Length / 2, inPlane = rowRuns.Length / 2 * inWidth;
        int plane = index / inPlane, at = index - plane * inPlane, r = at / inWidth, c = at - r * inWidth;
        int source = plane * outHeight * outWidth;
        float sum = 0f;
        for (int oh = rowRuns[2 * r]; oh < rowRuns[2 * r + 1]; oh++)
            for (int ow = columnRuns[2 * c]; ow < columnRuns[2 * c + 1]; ow++)
                sum += gradOutput[source + oh * outWidth + ow];
        gradInput[index] = sum;
    }

    /// <summary>Bilinear blend of four taps, the CPU's expression and order. Overwrites output.</summary>
    [Kernel]
    public static void BilinearForward(
        // [planes, inHeight, inWidth]
        DeviceSpan<float> input,
        // per output row: source rows and weights [outHeight]; per output column [outWidth]
        DeviceSpan<int> rowIndex0, DeviceSpan<int> rowIndex1, DeviceSpan<float> rowLambda0, DeviceSpan<float> rowLambda1,
        DeviceSpan<int> columnIndex0, DeviceSpan<int> columnIndex1, DeviceSpan<float> columnLambda0, DeviceSpan<float> columnLambda1,
        int inHeight, int inWidth,
        // [planes, outHeight, outWidth]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int o))
            return;
        int outWidth = columnIndex0.Length, outPlane = rowIndex0.Length * outWidth;
        int plane = o / outPlane, at = o - plane * outPlane, oh = at / outWidth, ow = at - oh * outWidth;
        int row0 = (plane * inHeight + rowIndex0[oh]) * inWidth, row1 = (plane * inHeight + rowIndex1[oh]) * inWidth;
        int w0 = columnIndex0[ow], w1 = columnIndex1[ow];
        float h0 = rowLambda0[oh], h1 = rowLambda1[oh], l0 = columnLambda0[ow], l1 = columnLambda1[ow];
        output[o] = h0 * (l0 * input[row0 + w0] + l1 * input[row0 + w1]) + h1 * (l0 * input[row1 + w0] + l1 * input[row1 + w1]);
    }

    /// <summary>
    /// The adjoint of <see cref="BilinearForward"/>: input (r, c) gathers from the outputs whose taps
    /// reach it (runs [rowRuns[2r], rowRuns[2r + 1]) and likewise for columns). Overwrites gradInput.
    /// </summary>
    [Kernel]
    public static void BilinearBackward(
        // [planes, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        DeviceSpan<int> rowIndex0, DeviceSpan<int> rowIndex1, DeviceSpan<float> rowLambda0, DeviceSpan<float> rowLambda1,
        DeviceSpan<int> columnIndex0, DeviceSpan<int> columnIndex1, DeviceSpan<float> columnLambda0, DeviceSpan<float> columnLambda1,
        // [2 · inHeight], [2 · inWidth]: the output runs that read each input row / column (see Runs)
        DeviceSpan<int> rowRuns, DeviceSpan<int> columnRuns,
        // [planes, inHeight, inWidth]
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradInput.Length, out int index))
            return;
        int inWidth = columnRuns.Length / 2, inPlane = rowRuns.Length / 2 * inWidth;
        int outHeight = rowIndex0.Length, outWidth = columnIndex0.Length;
        int plane = index / inPlane, at = index - plane * inPlane, r = at / inWidth, c = at - r * inWidth;
        int source = plane * outHeight * outWidth;
        float sum = 0f;
        for (int oh = rowRuns[2 * r]; oh < rowRuns[2 * r + 1]; oh++)
        {
            bool top = rowIndex0[oh] == r, bottom = rowIndex1[oh] == r;
            float h0 = rowLambda0[oh], h1 = rowLambda1[oh];
            for (int ow = columnRuns[2 * c]; ow < columnRuns[2 * c + 1]; ow++)
            {
                bool left = columnIndex0[ow] == c, right = columnIndex1[ow] == c;
                float l0 = columnLambda0[ow], l1 = columnLambda1[ow];
                float g = gradOutput[source + oh * outWidth + ow];
                // The CPU's order: row0[w0], row0[w1], row1[w0], row1[w1].
                if (top && left) sum += h0 * l0 * g;
                if (top && right) sum += h0 * l1 * g;
                if (bottom && left) sum += h1 * l0 * g;
                if (bottom && right) sum += h1 * l1 * g;
            }
        }
        gradInput[index] = sum;
    }

    /// <summary>
    /// For non-decreasing source tables (one or two per axis): runs[2i] … runs[2i + 1] − 1 are the
    /// outputs that read input index i through any table (an empty run when none does); [2 · inSize].
    /// Throws if a table decreases (the runs would not be contiguous).
    /// </summary>
    public static int[] Runs(int inSize, params int[][] sourceTables)
    {
        ArgumentNullException.ThrowIfNull(sourceTables);
        var runs = new int[2 * inSize];
        for (int i = 0; i < inSize; i++)
            (runs[2 * i], runs[2 * i + 1]) = (int.MaxValue, int.MinValue);
        foreach (int[] table in sourceTables)
            for (int o = 0; o < table.Length; o++)
            {
                if (o > 0 && table[o] < table[o - 1])
                    throw new ArgumentException($"upsample runs: source table decreases at output {o} ({table[o - 1]} then {table[o]}); expected non-decreasing source indices", nameof(sourceTables));
                int i = table[o];
                runs[2 * i] = Math.Min(runs[2 * i], o);
                runs[2 * i + 1] = Math.Max(runs[2 * i + 1], o + 1);
            }
        for (int i = 0; i < inSize; i++)
            if (runs[2 * i + 1] < 0)
                (runs[2 * i], runs[2 * i + 1]) = (0, 0);
        return runs;
    }
}
