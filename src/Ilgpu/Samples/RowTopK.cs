using ILGPU;
using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Ilgpu.Samples;

/// <summary>
/// Sample custom op, explicit grouping: the k largest values of each row (ties to the lower
/// index), one group of <see cref="GroupSize"/> threads per row. Forward: k rounds of a group-wide
/// arg-max: each thread scans its strided slice, warps reduce with shuffles, warp winners meet in
/// shared memory, and the winner is marked taken. Backward scatters the values' gradient back to
/// the chosen columns with atomic adds.
/// </summary>
public static class RowTopKKernels
{
    /// <summary>Threads per group (four warps).</summary>
    public const int GroupSize = 128;

    /// <summary>Longest row the shared "taken" flags hold.</summary>
    public const int MaxColumns = 2048;

    /// <summary>Grid: one group per row. Writes values and indices [rowCount, k].</summary>
    public static void Forward(
        // [rowCount, columnCount]
        ArrayView<float> input,
        int columnCount,
        int k,
        // [rowCount, k]
        ArrayView<float> values,
        ArrayView<int> indices)
    {
        int row = Grid.IdxX;
        int thread = Group.IdxX;
        ArrayView<int> taken = SharedMemory.Allocate<int>(MaxColumns);
        ArrayView<float> warpValues = SharedMemory.Allocate<float>(32);
        ArrayView<int> warpIndices = SharedMemory.Allocate<int>(32);
        for (int c = thread; c < columnCount; c += Group.DimX)
            taken[c] = 0;
        Group.Barrier();
        long rowStart = (long)row * columnCount;
        for (int j = 0; j < k; j++)
        {
            float best = float.NegativeInfinity;
            int bestIndex = int.MaxValue;
            for (int c = thread; c < columnCount; c += Group.DimX)
            {
                float v = input[rowStart + c];
                if (taken[c] == 0 && (v > best || (v == best && c < bestIndex)))
                {
                    best = v;
                    bestIndex = c;
                }
            }
            for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            {
                float otherValue = Warp.ShuffleDown(best, offset);
                int otherIndex = Warp.ShuffleDown(bestIndex, offset);
                if (otherValue > best || (otherValue == best && otherIndex < bestIndex))
                {
                    best = otherValue;
                    bestIndex = otherIndex;
                }
            }
            if (Warp.LaneIdx == 0)
            {
                warpValues[Warp.WarpIdx] = best;
                warpIndices[Warp.WarpIdx] = bestIndex;
            }
            Group.Barrier();
            if (thread == 0)
            {
                for (int w = 1; w < Group.DimX / Warp.WarpSize; w++)
                {
                    if (warpValues[w] > best || (warpValues[w] == best && warpIndices[w] < bestIndex))
                    {
                        best = warpValues[w];
                        bestIndex = warpIndices[w];
                    }
                }
                values[(long)row * k + j] = best;
                indices[(long)row * k + j] = bestIndex;
                taken[bestIndex] = 1;
            }
            Group.Barrier();
        }
    }

    /// <summary>Grid: one group per row. Accumulates gradValues into gradInput (which starts at zero) at the chosen columns.</summary>
    public static void Backward(
        // [rowCount, k]
        ArrayView<float> gradValues,
        ArrayView<int> indices,
        int columnCount,
        int k,
        // [rowCount, columnCount]
        ArrayView<float> gradInput)
    {
        int row = Grid.IdxX;
        for (int j = Group.IdxX; j < k; j += Group.DimX)
        {
            long at = (long)row * k + j;
            Atomic.Add(ref gradInput[(long)row * columnCount + indices[at]], gradValues[at]);
        }
    }
}

/// <summary>
/// Row-wise top-k of a [rows, columns] float tensor as a differentiable op:
/// <c>var op = new RowTopK(3); Tensor values = op.Apply(x); Tensor indices = op.Indices!;</c>.
/// Rows hold at most <see cref="RowTopKKernels.MaxColumns"/> finite values. No CPU implementation:
/// a CPU tensor is an error naming the devices it runs on.
/// </summary>
public sealed class RowTopK : IlgpuFunction
{
    public RowTopK(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        K = k;
    }

    public int K { get; }

    /// <summary>The chosen column of each value, [rows, k] int32, after <c>Apply</c>.</summary>
    public Tensor? Indices { get; private set; }

    protected override string Name => "RowTopK";

    protected override Tensor ForwardGpu(FunctionContext context, Tensor[] inputs)
    {
        if (inputs.Length != 1 || inputs[0].Shape.Length != 2 || inputs[0].DType != DType.Float32)
            throw new TensorShapeException($"RowTopK: expected one float32 [rows, columns] tensor; got {inputs.Length} input(s), the first {Shapes.Format(inputs[0].Shape)} {inputs[0].DType.Name()}");
        Tensor x = inputs[0].Contiguous();
        int rows = x.Shape[0], columns = x.Shape[1];
        if (K > columns || columns > RowTopKKernels.MaxColumns)
            throw new ArgumentOutOfRangeException(nameof(inputs), $"RowTopK: k = {K} needs at least k columns and at most {RowTopKKernels.MaxColumns}; the input has {columns}");
        Tensor values = Tensor.Empty([rows, K], DType.Float32, x.Device);
        Indices = Tensor.Empty([rows, K], DType.Int32, x.Device);
        if (rows > 0)
            IlgpuLaunch.Explicit(RowTopKKernels.Forward, rows, RowTopKKernels.GroupSize, x, columns, K, values, Indices);
        context.SaveForBackward(Indices);
        context.Values["columns"] = columns;
        return values;
    }

    protected override Tensor?[] BackwardGpu(FunctionContext context, Tensor gradOutput)
    {
        Tensor indices = context.SavedTensors[0];
        int columns = (int)context.Values["columns"], rows = indices.Shape[0];
        Tensor gradInput = Tensor.Zeros([rows, columns], DType.Float32, indices.Device);
        if (rows > 0)
            IlgpuLaunch.Explicit(RowTopKKernels.Backward, rows, 32, gradOutput.Contiguous(), indices, columns, K, gradInput);
        return [gradInput];
    }
}
