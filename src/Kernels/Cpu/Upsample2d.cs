using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// For one axis of a linear resize: output i reads source indices Index0[i] and Index1[i] with
/// weights Lambda0[i] and Lambda1[i] (PyTorch's area_pixel_compute_source_index rules).
/// </summary>
public sealed class LinearAxis
{
    public required int[] Index0 { get; init; }
    public required int[] Index1 { get; init; }
    public required float[] Lambda0 { get; init; }
    public required float[] Lambda1 { get; init; }

    /// <summary>
    /// align_corners: source = i * (in - 1) / (out - 1); otherwise source = max((i + 0.5) * s - 0.5, 0)
    /// with s = 1 / scaleFactor when a scale factor was given, else in / out.
    /// </summary>
    public static LinearAxis Create(int inSize, int outSize, bool alignCorners, double? scaleFactor)
    {
        var axis = new LinearAxis { Index0 = new int[outSize], Index1 = new int[outSize], Lambda0 = new float[outSize], Lambda1 = new float[outSize] };
        float scale = alignCorners
            ? (outSize > 1 ? (float)(inSize - 1) / (outSize - 1) : 0f)
            : Upsample2d.SourceScale(inSize, outSize, scaleFactor);
        for (int i = 0; i < outSize; i++)
        {
            if (inSize == outSize)
            {
                axis.Index0[i] = axis.Index1[i] = i;
                axis.Lambda0[i] = 1f;
                continue;
            }
            // Half-pixel source in double then rounded to float, the order PyTorch's CPU kernel uses.
            float source = alignCorners ? scale * i : Math.Max((float)(scale * (i + 0.5) - 0.5), 0f);
            int index = Math.Min((int)MathF.Floor(source), inSize - 1);
            float lambda = Math.Clamp(source - index, 0f, 1f);
            axis.Index0[i] = index;
            axis.Index1[i] = index + (index < inSize - 1 ? 1 : 0);
            axis.Lambda0[i] = 1f - lambda;
            axis.Lambda1[i] = lambda;
        }
        return axis;
    }
}

/// <summary>Nearest and bilinear resizing of [planes, height, width] data, forward and backward.</summary>
public static unsafe class Upsample2d
{
    /// <summary>Source step per output step: 1 / scaleFactor when one was given, else in / out (PyTorch's compute_scales_value).</summary>
    public static float SourceScale(int inSize, int outSize, double? scaleFactor) =>
        scaleFactor is > 0 ? (float)(1.0 / scaleFactor.Value) : (float)inSize / outSize;

    /// <summary>PyTorch 'nearest': source = min(floor(i * scale), in - 1), with the exact shortcuts for equal and doubled sizes.</summary>
    public static int[] NearestIndices(int inSize, int outSize, double? scaleFactor)
    {
        var indices = new int[outSize];
        float scale = SourceScale(inSize, outSize, scaleFactor);
        for (int i = 0; i < outSize; i++)
            indices[i] = outSize == inSize ? i
                : outSize == 2 * inSize ? i >> 1
                : Math.Min((int)MathF.Floor(i * scale), inSize - 1);
        return indices;
    }

    /// <summary>output[oh, ow] = input[rows[oh], columns[ow]]. Overwrites output.</summary>
    public static void NearestForward(float* input, int planeCount, int inHeight, int inWidth, int[] rows, int[] columns, float* output)
    {
        // input [planes, inHeight, inWidth]; output [planes, rows.Length, columns.Length]
        int outHeight = rows.Length, outWidth = columns.Length;
        CpuParallel.ForCost(planeCount, (long)outHeight * outWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* source = input + (long)plane * inHeight * inWidth;
                float* target = output + (long)plane * outHeight * outWidth;
                for (int oh = 0; oh < outHeight; oh++)
                {
                    float* sourceRow = source + (long)rows[oh] * inWidth;
                    for (int ow = 0; ow < outWidth; ow++)
                        target[oh * outWidth + ow] = sourceRow[columns[ow]];
                }
            }
        });
    }

    /// <summary>gradInput[rows[oh], columns[ow]] += gradOutput[oh, ow]. Overwrites gradInput.</summary>
    public static void NearestBackward(float* gradOutput, int planeCount, int inHeight, int inWidth, int[] rows, int[] columns, float* gradInput)
    {
        // gradOutput [planes, rows.Length, columns.Length]; gradInput [planes, inHeight, inWidth]
        int outHeight = rows.Length, outWidth = columns.Length;
        CpuParallel.ForCost(planeCount, (long)outHeight * outWidth + inHeight * inWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* source = gradOutput + (long)plane * outHeight * outWidth;
                float* target = gradInput + (long)plane * inHeight * inWidth;
                new Span<float>(target, inHeight * inWidth).Clear();
                for (int oh = 0; oh < outHeight; oh++)
                {
                    float* targetRow = target + (long)rows[oh] * inWidth;
                    for (int ow = 0; ow < outWidth; ow++)
                        targetRow[columns[ow]] += source[oh * outWidth + ow];
                }
            }
        });
    }

    /// <summary>Bilinear blend of the four source taps given by the two axes. Overwrites output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BilinearForward(float* input, int planeCount, int inHeight, int inWidth, LinearAxis rows, LinearAxis columns, float* output)
    {
        // input [planes, inHeight, inWidth]; output [planes, outHeight, outWidth]
        int outHeight = rows.Index0.Length, outWidth = columns.Index0.Length;
        CpuParallel.ForCost(planeCount, 8L * outHeight * outWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* source = input + (long)plane * inHeight * inWidth;
                float* target = output + (long)plane * outHeight * outWidth;
                for (int oh = 0; oh < outHeight; oh++)
                {
                    float* row0 = source + (long)rows.Index0[oh] * inWidth;
                    float* row1 = source + (long)rows.Index1[oh] * inWidth;
                    float h0 = rows.Lambda0[oh], h1 = rows.Lambda1[oh];
                    for (int ow = 0; ow < outWidth; ow++)
                    {
                        int w0 = columns.Index0[ow], w1 = columns.Index1[ow];
                        float l0 = columns.Lambda0[ow], l1 = columns.Lambda1[ow];
                        target[oh * outWidth + ow] = h0 * (l0 * row0[w0] + l1 * row0[w1]) + h1 * (l0 * row1[w0] + l1 * row1[w1]);
                    }
                }
            }
        });
    }

    /// <summary>The adjoint of <see cref="BilinearForward"/>. Overwrites gradInput.</summary>
    public static void BilinearBackward(float* gradOutput, int planeCount, int inHeight, int inWidth, LinearAxis rows, LinearAxis columns, float* gradInput)
    {
        // gradOutput [planes, outHeight, outWidth]; gradInput [planes, inHeight, inWidth]
        int outHeight = rows.Index0.Length, outWidth = columns.Index0.Length;
        CpuParallel.ForCost(planeCount, 8L * outHeight * outWidth + inHeight * inWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* source = gradOutput + (long)plane * outHeight * outWidth;
                float* target = gradInput + (long)plane * inHeight * inWidth;
                new Span<float>(target, inHeight * inWidth).Clear();
                for (int oh = 0; oh < outHeight; oh++)
                {
                    float* row0 = target + (long)rows.Index0[oh] * inWidth;
                    float* row1 = target + (long)rows.Index1[oh] * inWidth;
                    float h0 = rows.Lambda0[oh], h1 = rows.Lambda1[oh];
                    for (int ow = 0; ow < outWidth; ow++)
                    {
                        int w0 = columns.Index0[ow], w1 = columns.Index1[ow];
                        float l0 = columns.Lambda0[ow], l1 = columns.Lambda1[ow];
                        float g = source[oh * outWidth + ow];
                        row0[w0] += h0 * l0 * g;
                        row0[w1] += h0 * l1 * g;
                        row1[w0] += h1 * l0 * g;
                        row1[w1] += h1 * l1 * g;
                    }
                }
            }
        });
    }
}
