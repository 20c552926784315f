using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Whole-slice indexing along one dim (torch.index_select, and embedding lookups, which are an
/// index_select of rows). Tensors are seen as [outer, size, inner]; one index picks a
/// contiguous [inner] run per outer position. Indices must already be checked to lie in range.
/// </summary>
public static unsafe class IndexSelect
{
    /// <summary>output[o, j, :] = input[o, index[j], :]. Overwrites output. Generic over the element type.</summary>
    // input: dense [outerSize, size, innerSize]; index: [count]; output: dense [outerSize, count, innerSize]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<T>(T* input, long* index, int outerSize, int size, int innerSize, int count, T* output) where T : unmanaged
    {
        if (innerSize == 0)
            return;
        CpuParallel.ForCost(outerSize * count, innerSize, (from, to) =>
        {
            for (int row = from; row < to; row++)
            {
                int o = row / count, j = row % count;
                var source = new ReadOnlySpan<T>(input + ((long)o * size + index[j]) * innerSize, innerSize);
                source.CopyTo(new Span<T>(output + (long)row * innerSize, innerSize));
            }
        });
    }

    /// <summary>
    /// gradInput[o, index[j], :] += gradOutput[o, j, :], skipping every j whose index equals
    /// <paramref name="skipIndex"/> (an embedding's padding row; pass -1 to skip nothing).
    /// Accumulates into gradInput, so repeated indices sum. Work is split by outer position and
    /// column block, which never share a destination element.
    /// </summary>
    // gradOutput: dense [outerSize, count, innerSize]; index: [count]; gradInput: dense [outerSize, size, innerSize]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* gradOutput, long* index, int outerSize, int size, int innerSize, int count, long skipIndex, float* gradInput)
    {
        const int BlockWidth = 256;
        if (innerSize == 0 || count == 0)
            return;
        int blocks = (innerSize + BlockWidth - 1) / BlockWidth;
        CpuParallel.ForCost(outerSize * blocks, (long)count * Math.Min(innerSize, BlockWidth), (from, to) =>
        {
            for (int item = from; item < to; item++)
            {
                int o = item / blocks, start = item % blocks * BlockWidth;
                int width = Math.Min(BlockWidth, innerSize - start);
                for (int j = 0; j < count; j++)
                {
                    long position = index[j];
                    if (position == skipIndex)
                        continue;
                    var destination = new Span<float>(gradInput + ((long)o * size + position) * innerSize + start, width);
                    var source = new ReadOnlySpan<float>(gradOutput + ((long)o * count + j) * innerSize + start, width);
                    TensorPrimitives.Add(destination, source, destination);
                }
            }
        });
    }
}
