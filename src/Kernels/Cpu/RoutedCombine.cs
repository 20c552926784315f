using System.Numerics.Tensors;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// output[row, :] = sum_k weights[row, k] * units[k][row, :], the combine step of a routed
/// (mixture-of-experts style) layer, in one pass instead of K broadcast multiplies and adds.
/// Rows are cut into fixed column blocks, so the result and the weight gradient (summed over
/// blocks in block order) do not depend on the thread count.
/// </summary>
public static unsafe class RoutedCombine
{
    private const int ColumnBlock = 4096;

    /// <summary>Overwrites output.</summary>
    // units: unitCount pointers to [rowCount, rowLength]; weights [rowCount, unitCount]; output [rowCount, rowLength]
    public static void Forward(float*[] units, float* weights, int rowCount, int rowLength, float* output)
    {
        int unitCount = units.Length, blocks = Math.Max(1, (rowLength + ColumnBlock - 1) / ColumnBlock);
        CpuParallel.ForCost(rowCount * blocks, 2L * unitCount * Math.Min(rowLength, ColumnBlock) + 1, (from, to) =>
        {
            for (int task = from; task < to; task++)
            {
                int row = task / blocks, column = task % blocks * ColumnBlock;
                int length = Math.Min(ColumnBlock, rowLength - column);
                long start = (long)row * rowLength + column;
                var destination = new Span<float>(output + start, length);
                destination.Clear();
                for (int k = 0; k < unitCount; k++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(units[k] + start, length), weights[(long)row * unitCount + k], destination, destination);
            }
        });
    }

    /// <summary>
    /// gradUnits[k] = weights[:, k] * gradOutput (overwrites; null entries are skipped) and
    /// gradWeights[row, k] = gradOutput[row]·units[k][row] (overwrites; skipped when null).
    /// </summary>
    // units, gradUnits: unitCount pointers to [rowCount, rowLength]; weights, gradWeights [rowCount, unitCount]; gradOutput [rowCount, rowLength]
    public static void Backward(float*[] units, float* weights, float* gradOutput, int rowCount, int rowLength,
        float*[] gradUnits, float* gradWeights)
    {
        int unitCount = units.Length, blocks = Math.Max(1, (rowLength + ColumnBlock - 1) / ColumnBlock);
        // One partial dot product per (row, block, unit), summed over blocks afterwards in a fixed order.
        var partial = gradWeights == null ? null : new float[rowCount * blocks * unitCount];
        CpuParallel.ForCost(rowCount * blocks, 4L * unitCount * Math.Min(rowLength, ColumnBlock) + 1, (from, to) =>
        {
            for (int task = from; task < to; task++)
            {
                int row = task / blocks, column = task % blocks * ColumnBlock;
                int length = Math.Min(ColumnBlock, rowLength - column);
                long start = (long)row * rowLength + column;
                var gradient = new ReadOnlySpan<float>(gradOutput + start, length);
                for (int k = 0; k < unitCount; k++)
                {
                    if (gradUnits[k] != null)
                        TensorPrimitives.Multiply(gradient, weights[(long)row * unitCount + k], new Span<float>(gradUnits[k] + start, length));
                    if (partial != null)
                        partial[(long)task * unitCount + k] = TensorPrimitives.Dot(gradient, new ReadOnlySpan<float>(units[k] + start, length));
                }
            }
        });
        if (partial == null)
            return;
        for (int row = 0; row < rowCount; row++)
            for (int k = 0; k < unitCount; k++)
            {
                float sum = 0;
                for (int block = 0; block < blocks; block++)
                    sum += partial[((long)row * blocks + block) * unitCount + k];
                gradWeights[(long)row * unitCount + k] = sum;
            }
    }
}
