using Tessera.Engine;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// A strided view of up to <see cref="MaxRank"/> dims as kernel parameters (12 scalars): the sizes
/// and element strides, right-aligned, leading dims padded with size 1. <see cref="Offset"/> maps a
/// row-major linear index of the shape to the element offset of the view. Host code builds it with
/// <see cref="Create"/> after <see cref="Coalesce"/> has merged dims that are contiguous in every
/// operand (so most tensors need one or two dims whatever their rank).
/// </summary>
public struct StridedLayout
{
    public const int MaxRank = 6;

    public int Size0, Size1, Size2, Size3, Size4, Size5;
    public int Stride0, Stride1, Stride2, Stride3, Stride4, Stride5;

    /// <summary>The offset (in elements) of the element with row-major index <paramref name="linear"/>.</summary>
    public readonly int Offset(int linear)
    {
        int rest = linear;
        int offset = rest % Size5 * Stride5;
        rest /= Size5;
        offset += rest % Size4 * Stride4;
        rest /= Size4;
        offset += rest % Size3 * Stride3;
        rest /= Size3;
        offset += rest % Size2 * Stride2;
        rest /= Size2;
        offset += rest % Size1 * Stride1;
        rest /= Size1;
        return offset + rest * Stride0;
    }

    /// <summary>The layout of <paramref name="shape"/> read through <paramref name="strides"/> (at most <see cref="MaxRank"/> dims).</summary>
    public static StridedLayout Create(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        if (shape.Length != strides.Length)
            throw new ArgumentException($"StridedLayout: {shape.Length} sizes but {strides.Length} strides");
        if (shape.Length > MaxRank)
            throw new TensorShapeException($"GPU kernels take views of at most {MaxRank} dims after merging contiguous dims; found shape {Shapes.Format(shape)} with strides {Shapes.Format(strides)}. Make the tensor contiguous first (Contiguous()).");
        Span<int> sizes = stackalloc int[MaxRank];
        Span<int> steps = stackalloc int[MaxRank];
        sizes.Fill(1);
        steps.Clear();
        int pad = MaxRank - shape.Length;
        for (int d = 0; d < shape.Length; d++)
        {
            sizes[pad + d] = shape[d];
            steps[pad + d] = shape[d] == 1 ? 0 : strides[d];
        }
        return new StridedLayout
        {
            Size0 = sizes[0], Size1 = sizes[1], Size2 = sizes[2], Size3 = sizes[3], Size4 = sizes[4], Size5 = sizes[5],
            Stride0 = steps[0], Stride1 = steps[1], Stride2 = steps[2], Stride3 = steps[3], Stride4 = steps[4], Stride5 = steps[5],
        };
    }

    /// <summary>
    /// Merges adjacent dims that are contiguous with each other in every operand (and drops size-1
    /// dims): shape [a, b] with strides [b·s, s] in all operands becomes [a·b] with stride [s].
    /// Returns the merged shape and one merged stride array per operand.
    /// </summary>
    public static (int[] Shape, int[][] Strides) Coalesce(ReadOnlySpan<int> shape, params int[][] strides)
    {
        var sizes = new List<int>();
        var merged = strides.Select(_ => new List<int>()).ToArray();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1)
                continue;
            bool canMerge = sizes.Count > 0;
            for (int o = 0; o < strides.Length && canMerge; o++)
                canMerge = merged[o][^1] == strides[o][d] * shape[d];
            if (canMerge)
            {
                sizes[^1] *= shape[d];
                for (int o = 0; o < strides.Length; o++)
                    merged[o][^1] = strides[o][d];
            }
            else
            {
                sizes.Add(shape[d]);
                for (int o = 0; o < strides.Length; o++)
                    merged[o].Add(strides[o][d]);
            }
        }
        return ([.. sizes], merged.Select(m => m.ToArray()).ToArray());
    }
}
