using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Padding of [planes, plane] data on the GPU from a per-output-position table of source offsets
/// within a plane (<see cref="Cpu.Pad.SourceOffsets"/> for reflect / replicate / circular, <see
/// cref="ConstantOffsets"/> with −1 for the constant border). Backward gathers through the inverse
/// table (<see cref="Inverse"/>): each input element sums the outputs that copied it in increasing
/// output order, the CPU's order, with no atomics. Launch ceil(count / 256) blocks of 256 threads.
/// </summary>
public static partial class GpuPad
{
    /// <summary>output[p, q] = sourceOffsets[q] ≥ 0 ? input[p, sourceOffsets[q]] : value. Overwrites output.</summary>
    [Kernel]
    public static void Forward(
        // [planes, inputPlane]
        DeviceSpan<float> input,
        // [outputPlane]
        DeviceSpan<int> sourceOffsets,
        int inputPlane, float value,
        // [planes, outputPlane]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int o))
            return;
        int outputPlane = sourceOffsets.Length, plane = o / outputPlane;
        int offset = sourceOffsets[o - plane * outputPlane];
        output[o] = offset >= 0 ? input[plane * inputPlane + offset] : value;
    }

    /// <summary>
    /// gradInput[p, i] = Σ gradOutput[p, q] over q = readers[starts[i]] … readers[starts[i + 1] − 1]. Overwrites gradInput.
    /// </summary>
    [Kernel]
    public static void Backward(
        // [planes, outputPlane]
        DeviceSpan<float> gradOutput,
        // [inputPlane + 1] and [entries]: the inverse of the source-offset table (see Inverse)
        DeviceSpan<int> starts, DeviceSpan<int> readers,
        int outputPlane,
        // [planes, inputPlane]
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradInput.Length, out int index))
            return;
        int inputPlane = starts.Length - 1, plane = index / inputPlane, at = index - plane * inputPlane;
        int source = plane * outputPlane;
        float sum = 0f;
        for (int r = starts[at]; r < starts[at + 1]; r++)
            sum += gradOutput[source + readers[r]];
        gradInput[index] = sum;
    }

    /// <summary>
    /// The inverse of a source-offset table in compressed rows: input offset i is read by output
    /// positions Readers[Starts[i]] … Readers[Starts[i + 1] − 1], increasing. Negative offsets (constant border) read nothing.
    /// </summary>
    public static (int[] Starts, int[] Readers) Inverse(int[] sourceOffsets, int inputPlane)
    {
        ArgumentNullException.ThrowIfNull(sourceOffsets);
        var starts = new int[inputPlane + 1];
        foreach (int offset in sourceOffsets)
            if (offset >= 0)
                starts[offset + 1]++;
        for (int i = 0; i < inputPlane; i++)
            starts[i + 1] += starts[i];
        var readers = new int[Math.Max(1, starts[inputPlane])];
        var fill = starts[..inputPlane];
        for (int q = 0; q < sourceOffsets.Length; q++)
            if (sourceOffsets[q] >= 0)
                readers[fill[sourceOffsets[q]]++] = q;
        return (starts, readers);
    }

    /// <summary>
    /// Source offsets of a constant pad (negative pads crop) over the padded dims <paramref name="inputSizes"/>:
    /// the dense input-plane offset each output position copies, or −1 where it takes the fill value.
    /// </summary>
    public static int[] ConstantOffsets(ReadOnlySpan<int> inputSizes, ReadOnlySpan<int> before, ReadOnlySpan<int> after)
    {
        int dims = inputSizes.Length;
        var outputSizes = new int[dims];
        var inputStrides = new int[dims];
        int stride = 1, outputCount = 1;
        for (int k = dims - 1; k >= 0; k--)
        {
            inputStrides[k] = stride;
            stride *= inputSizes[k];
            outputSizes[k] = inputSizes[k] + before[k] + after[k];
            outputCount *= outputSizes[k];
        }
        var offsets = new int[outputCount];
        for (int flat = 0; flat < outputCount; flat++)
        {
            int remaining = flat, offset = 0;
            for (int k = dims - 1; k >= 0 && offset >= 0; k--)
            {
                int position = remaining % outputSizes[k] - before[k];
                remaining /= outputSizes[k];
                offset = position >= 0 && position < inputSizes[k] ? offset + position * inputStrides[k] : -1;
            }
            offsets[flat] = offset;
        }
        return offsets;
    }
}
