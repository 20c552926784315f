using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>Copies a strided view into dense row-major memory (the kernel behind Contiguous()).</summary>
public static unsafe class StridedCopy
{
    /// <summary>
    /// dst[i0, ..., in] = src[offset + sum(ik * strides[k])] for every index of <paramref name="shape"/>.
    /// Overwrites dst. Generic over the element width so every dtype shares one kernel.
    /// </summary>
    public static void Run<T>(T* source, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, T* destination) where T : unmanaged
    {
        int rank = shape.Length;
        if (rank == 0)
        {
            *destination = *source;
            return;
        }
        int inner = shape[rank - 1];
        int innerStride = strides[rank - 1];
        int rows = 1;
        for (int d = 0; d < rank - 1; d++) rows *= shape[d];
        if (rows == 0 || inner == 0)
            return;
        int[] outerShape = shape[..(rank - 1)].ToArray();
        int[] outerStrides = strides[..(rank - 1)].ToArray();
        CpuParallel.ForCost(rows, inner, (from, to) =>
        {
            Span<int> index = stackalloc int[Math.Max(outerShape.Length, 1)];
            // Decompose the first row index into a multi-index, then walk forward.
            int remaining = from;
            long srcOffset = 0;
            for (int d = outerShape.Length - 1; d >= 0; d--)
            {
                index[d] = remaining % outerShape[d];
                remaining /= outerShape[d];
                srcOffset += (long)index[d] * outerStrides[d];
            }
            for (int row = from; row < to; row++)
            {
                T* s = source + srcOffset;
                T* o = destination + (long)row * inner;
                if (innerStride == 1)
                    new ReadOnlySpan<T>(s, inner).CopyTo(new Span<T>(o, inner));
                else
                    for (int j = 0; j < inner; j++) o[j] = s[(long)j * innerStride];
                for (int d = outerShape.Length - 1; d >= 0; d--)
                {
                    index[d]++;
                    srcOffset += outerStrides[d];
                    if (index[d] < outerShape[d]) break;
                    srcOffset -= (long)index[d] * outerStrides[d];
                    index[d] = 0;
                }
            }
        });
    }
}
