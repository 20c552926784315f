using Tessera.Engine;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>Copies between strided views (the kernel behind Contiguous() and copies into views).</summary>
public static unsafe class StridedCopy
{
    /// <summary>
    /// destination[idx] = source[idx] for every multi-index idx of <paramref name="shape"/>, each side
    /// addressed by its own strides (a 0 stride on the source broadcasts). Overwrites destination.
    /// Generic over the element width so every dtype shares one kernel.
    /// </summary>
    public static void Run<T>(T* source, ReadOnlySpan<int> sourceStrides, T* destination, ReadOnlySpan<int> destinationStrides, ReadOnlySpan<int> shape)
        where T : unmanaged
    {
        int rank = shape.Length;
        if (rank == 0)
        {
            *destination = *source;
            return;
        }
        int inner = shape[rank - 1];
        int sourceInner = sourceStrides[rank - 1];
        int destinationInner = destinationStrides[rank - 1];
        int rows = 1;
        for (int d = 0; d < rank - 1; d++) rows *= shape[d];
        if (rows == 0 || inner == 0)
            return;
        int[] outerShape = shape[..(rank - 1)].ToArray();
        int[] outerSource = sourceStrides[..(rank - 1)].ToArray();
        int[] outerDestination = destinationStrides[..(rank - 1)].ToArray();
        CpuParallel.ForCost(rows, inner, (from, to) =>
        {
            var walker = new RowWalker(outerShape, outerSource, outerDestination, from);
            for (int row = from; row < to; row++)
            {
                T* s = source + walker.OffsetA;
                T* o = destination + walker.OffsetB;
                if (sourceInner == 1 && destinationInner == 1)
                    new ReadOnlySpan<T>(s, inner).CopyTo(new Span<T>(o, inner));
                else if (sourceInner == 0)
                    new Span<T>(o, inner).Fill(*s);
                else
                    for (int j = 0; j < inner; j++) o[(long)j * destinationInner] = s[(long)j * sourceInner];
                walker.Next();
            }
        });
    }

    /// <summary>Strided source into dense row-major destination.</summary>
    public static void ToDense<T>(T* source, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, T* destination) where T : unmanaged =>
        Run(source, strides, destination, Shapes.ContiguousStrides(shape), shape);
}

/// <summary>
/// Walks the rows (all dims but the last) of up to three strided operands in row-major order,
/// keeping each operand's element offset. Starts at an arbitrary row so parallel chunks can
/// each begin where they are told.
/// </summary>
public sealed class RowWalker
{
    private readonly int[] _shape;
    private readonly int[] _stridesA;
    private readonly int[] _stridesB;
    private readonly int[]? _stridesC;
    private readonly int[] _index;

    public RowWalker(int[] outerShape, int[] stridesA, int[] stridesB, int startRow, int[]? stridesC = null)
    {
        _shape = outerShape;
        _stridesA = stridesA;
        _stridesB = stridesB;
        _stridesC = stridesC;
        _index = new int[outerShape.Length];
        int remaining = startRow;
        for (int d = outerShape.Length - 1; d >= 0; d--)
        {
            _index[d] = remaining % outerShape[d];
            remaining /= outerShape[d];
            OffsetA += (long)_index[d] * stridesA[d];
            OffsetB += (long)_index[d] * stridesB[d];
            if (stridesC is not null) OffsetC += (long)_index[d] * stridesC[d];
        }
    }

    public long OffsetA { get; private set; }

    public long OffsetB { get; private set; }

    public long OffsetC { get; private set; }

    public void Next()
    {
        for (int d = _shape.Length - 1; d >= 0; d--)
        {
            _index[d]++;
            OffsetA += _stridesA[d];
            OffsetB += _stridesB[d];
            if (_stridesC is not null) OffsetC += _stridesC[d];
            if (_index[d] < _shape[d])
                return;
            OffsetA -= (long)_index[d] * _stridesA[d];
            OffsetB -= (long)_index[d] * _stridesB[d];
            if (_stridesC is not null) OffsetC -= (long)_index[d] * _stridesC[d];
            _index[d] = 0;
        }
    }
}
