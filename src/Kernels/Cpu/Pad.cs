using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>The index rule of a non-constant pad: where an output position outside the input reads from.</summary>
public enum PadMode
{
    /// <summary>Mirror without repeating the edge: [a b c] -> b | a b c | b.</summary>
    Reflect,

    /// <summary>Repeat the edge: [a b c] -> a | a b c | c.</summary>
    Replicate,

    /// <summary>Wrap around: [a b c] -> c | a b c | a.</summary>
    Circular,
}

/// <summary>
/// Reflect / replicate / circular padding of the trailing dims of a tensor seen as [planes, plane
/// dims...]. Every output element of a plane reads one input element of the same plane; the
/// mapping is built once (<see cref="SourceOffsets"/>) and shared by forward and backward.
/// </summary>
public static unsafe class Pad
{
    /// <summary>
    /// For each element of one dense output plane, the offset of the input element it copies in one
    /// dense input plane. before[k] / after[k] pad padded dim k (negative values crop); the caller
    /// has checked that every pad is within what the mode allows.
    /// </summary>
    public static int[] SourceOffsets(ReadOnlySpan<int> inputSizes, ReadOnlySpan<int> before, ReadOnlySpan<int> after, PadMode mode)
    {
        int dims = inputSizes.Length;
        var maps = new int[dims][];
        var inputStrides = new int[dims];
        int inputStride = 1, outputCount = 1;
        for (int k = dims - 1; k >= 0; k--)
        {
            inputStrides[k] = inputStride;
            inputStride *= inputSizes[k];
            int outputSize = inputSizes[k] + before[k] + after[k];
            maps[k] = new int[outputSize];
            for (int i = 0; i < outputSize; i++)
                maps[k][i] = SourcePosition(i - before[k], inputSizes[k], mode);
            outputCount *= outputSize;
        }
        var offsets = new int[outputCount];
        for (int flat = 0; flat < outputCount; flat++)
        {
            int remaining = flat, offset = 0;
            for (int k = dims - 1; k >= 0; k--)
            {
                int size = maps[k].Length;
                offset += maps[k][remaining % size] * inputStrides[k];
                remaining /= size;
            }
            offsets[flat] = offset;
        }
        return offsets;
    }

    /// <summary>output[p, q] = input[p, sourceOffsets[q]]. Overwrites output.</summary>
    // input: dense [planeCount, inputPlane]; sourceOffsets: [outputPlane]; output: dense [planeCount, outputPlane]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* input, int[] sourceOffsets, int planeCount, int inputPlane, float* output)
    {
        int outputPlane = sourceOffsets.Length;
        CpuParallel.ForCost(planeCount, outputPlane, (from, to) =>
        {
            for (int p = from; p < to; p++)
            {
                float* source = input + (long)p * inputPlane;
                float* destination = output + (long)p * outputPlane;
                for (int q = 0; q < outputPlane; q++)
                    destination[q] = source[sourceOffsets[q]];
            }
        });
    }

    /// <summary>gradInput[p, sourceOffsets[q]] += gradOutput[p, q]. Accumulates into gradInput (pass zeros).</summary>
    // gradOutput: dense [planeCount, outputPlane]; sourceOffsets: [outputPlane]; gradInput: dense [planeCount, inputPlane]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* gradOutput, int[] sourceOffsets, int planeCount, int inputPlane, float* gradInput)
    {
        int outputPlane = sourceOffsets.Length;
        CpuParallel.ForCost(planeCount, outputPlane, (from, to) =>
        {
            for (int p = from; p < to; p++)
            {
                float* source = gradOutput + (long)p * outputPlane;
                float* destination = gradInput + (long)p * inputPlane;
                for (int q = 0; q < outputPlane; q++)
                    destination[sourceOffsets[q]] += source[q];
            }
        });
    }

    private static int SourcePosition(int position, int size, PadMode mode)
    {
        if (position >= 0 && position < size)
            return position;
        return mode switch
        {
            PadMode.Reflect => position < 0 ? -position : 2 * (size - 1) - position,
            PadMode.Replicate => Math.Clamp(position, 0, size - 1),
            _ => ((position % size) + size) % size,
        };
    }
}
