using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>Sizes of an index_select seen as [outer, size, inner] picking <see cref="Count"/> slices.</summary>
public struct SliceSelection
{
    public int Outer;
    public int Size;
    public int Inner;
    public int Count;
}

/// <summary>
/// Indexing kernels (index_select / embedding, gather, scatter_add), one thread per element of
/// the index-shaped side. Backward and scatter kernels accumulate with float atomics, so repeated
/// indices add up (in an order the hardware picks). Indices must already lie in range
/// (<see cref="FindOutOfRange"/> checks them on the device).
/// </summary>
public static class IndexingKernels
{
    /// <summary>output[o, j, c] = input[o, index[j], c]. Overwrites output. Generic over the element type.</summary>
    [Kernel]
    public static void SelectForward<T>(
        // [outer, size, inner]
        DeviceSpan<T> input,
        // [count]
        DeviceSpan<long> index,
        SliceSelection shape,
        // [outer, count, inner]
        DeviceSpan<T> output)
        where T : unmanaged
    {
        if (Elementwise.Index(output.Length, out int i))
        {
            int c = i % shape.Inner;
            int row = i / shape.Inner;
            int j = row % shape.Count;
            int o = row / shape.Count;
            output[i] = input[(o * shape.Size + (int)index[j]) * shape.Inner + c];
        }
    }

    /// <summary>
    /// gradInput[o, index[j], c] += gradOutput[o, j, c] for every j whose index is not
    /// <paramref name="skipIndex"/> (an embedding's padding row; -1 skips nothing). Accumulates.
    /// </summary>
    [Kernel]
    public static void SelectBackward(
        // [outer, count, inner]
        DeviceSpan<float> gradOutput,
        // [count]
        DeviceSpan<long> index,
        SliceSelection shape,
        long skipIndex,
        // [outer, size, inner]
        DeviceSpan<float> gradInput)
    {
        if (Elementwise.Index(gradOutput.Length, out int i))
        {
            int c = i % shape.Inner;
            int row = i / shape.Inner;
            int j = row % shape.Count;
            int o = row / shape.Count;
            long position = index[j];
            if (position != skipIndex)
                Atomic.Add(ref gradInput[(o * shape.Size + (int)position) * shape.Inner + c], gradOutput[i]);
        }
    }

    /// <summary>
    /// output[i] = input[A(i) + index[i] · dimStride]: operand A of <paramref name="layout"/> holds
    /// the input's strides with the gathered dim's set to 0. Overwrites output.
    /// </summary>
    [Kernel]
    public static void Gather(
        // strided, addressed by operand A
        DeviceSpan<float> input,
        // [indexShape], dense
        DeviceSpan<long> index,
        StridedIndex layout,
        int dimStride,
        // [indexShape], dense
        DeviceSpan<float> output)
    {
        if (Elementwise.Index(output.Length, out int i))
        {
            layout.Offsets(i, out int a, out _, out _);
            output[i] = input[a + (int)index[i] * dimStride];
        }
    }

    /// <summary>
    /// output[C(i) + index[i] · dimStride] += source[A(i)]: operand A holds the source's strides,
    /// operand C the output's with the scattered dim's set to 0. Accumulates.
    /// </summary>
    [Kernel]
    public static void ScatterAdd(
        // strided, addressed by operand A
        DeviceSpan<float> source,
        // [indexShape], dense
        DeviceSpan<long> index,
        StridedIndex layout,
        int dimStride,
        // strided, addressed by operand C
        DeviceSpan<float> output)
    {
        if (Elementwise.Index(index.Length, out int i))
        {
            layout.Offsets(i, out int a, out _, out int c);
            Atomic.Add(ref output[c + (int)index[i] * dimStride], source[a]);
        }
    }

    /// <summary>
    /// firstBad[0] = the smallest position whose index lies outside [0, size) (atomic min; set it
    /// to int.MaxValue before the launch, and it stays so when every index is in range).
    /// </summary>
    [Kernel]
    public static void FindOutOfRange(
        // [count]
        DeviceSpan<long> index,
        long size,
        // [1]
        DeviceSpan<int> firstBad)
    {
        if (Elementwise.Index(index.Length, out int i))
        {
            long value = index[i];
            if (value < 0 || value >= size)
                Atomic.Min(ref firstBad[0], i);
        }
    }
}
