using Tessera.Engine;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// The addressing of up to three strided operands (A, B, C) walked in the row-major order of one
/// shape, passed to a kernel as scalar parameters. Dims are stored innermost first
/// (<see cref="Size0"/> is the last dim of the shape) after merging every run of dims that is
/// contiguous for all operands and dropping size-1 dims, so most real shapes need one or two
/// dims. A stride of 0 broadcasts. The linear index itself addresses any dense operand.
/// </summary>
public struct StridedIndex
{
    /// <summary>The most dims a kernel can address after merging.</summary>
    public const int MaxRank = 6;

    /// <summary>Dims in use (1..MaxRank); dims at or above it are ignored.</summary>
    public int Rank;
    public int Size0, Size1, Size2, Size3, Size4, Size5;
    public int A0, A1, A2, A3, A4, A5;
    public int B0, B1, B2, B3, B4, B5;
    public int C0, C1, C2, C3, C4, C5;

    /// <summary>
    /// Element offsets of operands A, B and C for the <paramref name="linear"/>-th element in
    /// row-major order. One division per dim in use beyond the first; offsets of operands a kernel ignores are
    /// dead code and vanish.
    /// </summary>
    public readonly void Offsets(int linear, out int a, out int b, out int c)
    {
        if (Rank == 1)
        {
            // The common case (dense or one broadcast run): no division.
            a = linear * A0;
            b = linear * B0;
            c = linear * C0;
            return;
        }
        int r = linear;
        int k = r % Size0;
        r /= Size0;
        a = k * A0;
        b = k * B0;
        c = k * C0;
        {
            k = r % Size1;
            r /= Size1;
            a += k * A1;
            b += k * B1;
            c += k * C1;
            if (Rank > 2)
            {
                k = r % Size2;
                r /= Size2;
                a += k * A2;
                b += k * B2;
                c += k * C2;
                if (Rank > 3)
                {
                    k = r % Size3;
                    r /= Size3;
                    a += k * A3;
                    b += k * B3;
                    c += k * C3;
                    if (Rank > 4)
                    {
                        k = r % Size4;
                        r /= Size4;
                        a += k * A4;
                        b += k * B4;
                        c += k * C4;
                        if (Rank > 5)
                        {
                            k = r % Size5;
                            a += k * A5;
                            b += k * B5;
                            c += k * C5;
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Builds the addressing of <paramref name="shape"/> for operands with the given strides (an
    /// empty span means "not used": strides 0). Throws <see cref="TensorShapeException"/> when more
    /// than <see cref="MaxRank"/> dims remain after merging.
    /// </summary>
    public static StridedIndex Create(ReadOnlySpan<int> shape, ReadOnlySpan<int> stridesA, ReadOnlySpan<int> stridesB = default, ReadOnlySpan<int> stridesC = default)
    {
        Check(shape, stridesA, "A");
        Check(shape, stridesB, "B");
        Check(shape, stridesC, "C");
        Span<int> sizes = stackalloc int[Math.Max(shape.Length, 1)];
        Span<int> a = stackalloc int[sizes.Length], b = stackalloc int[sizes.Length], c = stackalloc int[sizes.Length];
        int rank = 0;
        // From the innermost dim outwards: merge a dim into the previous (inner) one when every operand steps through both as one run.
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 1)
                continue;
            int sa = At(stridesA, d), sb = At(stridesB, d), sc = At(stridesC, d);
            if (rank > 0 && sa == a[rank - 1] * sizes[rank - 1] && sb == b[rank - 1] * sizes[rank - 1] && sc == c[rank - 1] * sizes[rank - 1])
            {
                sizes[rank - 1] *= shape[d];
                continue;
            }
            sizes[rank] = shape[d];
            a[rank] = sa;
            b[rank] = sb;
            c[rank] = sc;
            rank++;
        }
        if (rank == 0)
        {
            sizes[0] = 1;
            rank = 1;
        }
        if (rank > MaxRank)
            throw new TensorShapeException($"GPU strided kernels address at most {MaxRank} dims after merging contiguous runs; shape {Shapes.Format(shape)} with these strides needs {rank}. Make the operands contiguous (Contiguous()) first.");
        var index = new StridedIndex { Rank = rank };
        for (int d = 0; d < rank; d++)
            index.Set(d, sizes[d], a[d], b[d], c[d]);
        for (int d = rank; d < MaxRank; d++)
            index.Set(d, 1, 0, 0, 0);
        return index;
    }

    private static int At(ReadOnlySpan<int> strides, int d) => strides.IsEmpty ? 0 : strides[d];

    private static void Check(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, string operand)
    {
        if (!strides.IsEmpty && strides.Length != shape.Length)
            throw new TensorShapeException($"StridedIndex: operand {operand} expected {shape.Length} strides for shape {Shapes.Format(shape)}, found {strides.Length}");
    }

    private void Set(int d, int size, int a, int b, int c)
    {
        switch (d)
        {
            case 0: Size0 = size; A0 = a; B0 = b; C0 = c; break;
            case 1: Size1 = size; A1 = a; B1 = b; C1 = c; break;
            case 2: Size2 = size; A2 = a; B2 = b; C2 = c; break;
            case 3: Size3 = size; A3 = a; B3 = b; C3 = c; break;
            case 4: Size4 = size; A4 = a; B4 = b; C4 = c; break;
            default: Size5 = size; A5 = a; B5 = b; C5 = c; break;
        }
    }
}
