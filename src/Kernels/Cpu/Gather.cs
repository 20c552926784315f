using Tessera.Engine;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Gather and scatter-add along one dim (torch.gather / torch.scatter_add). Both walk the index
/// tensor line by line, a line being every position along <c>dim</c> for fixed other
/// coordinates; two lines never touch the same output line, so lines run in parallel and the
/// scatter needs no atomics. Indices must already be checked to lie in range.
/// </summary>
public static unsafe class Gather
{
    /// <summary>
    /// output[i] = input[i with coordinate dim replaced by index[i]]. Overwrites output.
    /// </summary>
    // input: any strides over a shape at least as large as index's (dim excepted)
    // index, output: dense [indexShape]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* input, ReadOnlySpan<int> inputStrides, long* index, ReadOnlySpan<int> indexShape, int dim, float* output)
    {
        int[] denseStrides = Shapes.ContiguousStrides(indexShape);
        var plan = new LinePlan(indexShape, dim, inputStrides, denseStrides);
        int lineLength = indexShape[dim];
        int inputStep = inputStrides[dim], indexStep = denseStrides[dim];
        CpuParallel.ForCost(plan.LineCount, lineLength, (from, to) =>
        {
            var walker = plan.Walker(from);
            for (int line = from; line < to; line++)
            {
                float* source = input + walker.OffsetA;
                long* positions = index + walker.OffsetB;
                float* destination = output + walker.OffsetB;
                for (int j = 0; j < lineLength; j++)
                    destination[(long)j * indexStep] = source[positions[(long)j * indexStep] * inputStep];
                walker.Next();
            }
        });
    }

    /// <summary>
    /// output[i with coordinate dim replaced by index[i]] += source[i] for every position i of
    /// index. Accumulates into output (pass a copy of the base tensor, or zeros for a gradient).
    /// </summary>
    // source: any strides over a shape at least as large as index's
    // index: dense [indexShape]; output: any strides, large enough along every dim but dim
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScatterAdd(float* source, ReadOnlySpan<int> sourceStrides, long* index, ReadOnlySpan<int> indexShape, int dim,
        float* output, ReadOnlySpan<int> outputStrides)
    {
        int[] denseStrides = Shapes.ContiguousStrides(indexShape);
        var plan = new LinePlan(indexShape, dim, sourceStrides, denseStrides, outputStrides);
        int lineLength = indexShape[dim];
        int sourceStep = sourceStrides[dim], indexStep = denseStrides[dim], outputStep = outputStrides[dim];
        CpuParallel.ForCost(plan.LineCount, lineLength, (from, to) =>
        {
            var walker = plan.Walker(from);
            for (int line = from; line < to; line++)
            {
                float* values = source + walker.OffsetA;
                long* positions = index + walker.OffsetB;
                float* destination = output + walker.OffsetC;
                for (int j = 0; j < lineLength; j++)
                    destination[positions[(long)j * indexStep] * outputStep] += values[(long)j * sourceStep];
                walker.Next();
            }
        });
    }

    /// <summary>The lines of an index shape: every dim but <c>dim</c>, with each operand's strides over them.</summary>
    private sealed class LinePlan
    {
        private readonly int[] _outerShape;
        private readonly int[] _stridesA;
        private readonly int[] _stridesB;
        private readonly int[]? _stridesC;

        public LinePlan(ReadOnlySpan<int> shape, int dim, ReadOnlySpan<int> stridesA, ReadOnlySpan<int> stridesB, ReadOnlySpan<int> stridesC = default)
        {
            _outerShape = Drop(shape, dim);
            _stridesA = Drop(stridesA, dim);
            _stridesB = Drop(stridesB, dim);
            _stridesC = stridesC.IsEmpty ? null : Drop(stridesC, dim);
            long count = 1;
            foreach (int size in _outerShape) count *= size;
            LineCount = shape[dim] == 0 ? 0 : (int)count;
        }

        public int LineCount { get; }

        public RowWalker Walker(int startLine) => new(_outerShape, _stridesA, _stridesB, startLine, _stridesC);

        private static int[] Drop(ReadOnlySpan<int> values, int dim)
        {
            var result = new int[values.Length - 1];
            for (int d = 0, k = 0; d < values.Length; d++)
                if (d != dim) result[k++] = values[d];
            return result;
        }
    }
}
