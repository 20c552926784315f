using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Depthwise 2-d convolution computed directly (ConvDepthwiseDirect): one kH×kW filter per channel
/// (groups = inChannels = outChannels). im2col + GEMM would run one tiny GEMM per channel; here
/// each filter tap is one multiply-add over a contiguous slice of an output row (stride 1) or a
/// strided loop (stride > 1), and planes run in parallel.
/// </summary>
public static unsafe class DepthwiseConv2d
{
    /// <summary>Whether <paramref name="shape"/> is a depthwise convolution with channel multiplier 1.</summary>
    public static bool Applies(in Conv2dGeometry shape) =>
        shape.Groups > 1 && shape.Groups == shape.InChannels && shape.Groups == shape.OutChannels;

    /// <summary>output = depthwise(input, weight) + bias. Overwrites output; bias may be null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* input, float* weight, float* bias, in Conv2dGeometry shape, float* output)
    {
        // input [batch, channels, inHeight, inWidth]; weight [channels, 1, kH, kW]; output [batch, channels, outHeight, outWidth]
        var g = shape;
        int planes = g.BatchSize * g.InChannels;
        CpuParallel.ForCost(planes, (long)g.OutPlane * g.KernelHeight * g.KernelWidth * 2, (from, to) =>
        {
            for (int p = from; p < to; p++)
            {
                int channel = p % g.InChannels;
                float* source = input + (long)p * g.InPlane;
                float* target = output + (long)p * g.OutPlane;
                float* filter = weight + (long)channel * g.KernelHeight * g.KernelWidth;
                new Span<float>(target, g.OutPlane).Fill(bias == null ? 0f : bias[channel]);
                ForEachTap(g, (oh, ih, kTap, owStart, owEnd, iwStart) =>
                {
                    float w = filter[kTap];
                    float* outRow = target + (long)oh * g.OutWidth;
                    float* inRow = source + (long)ih * g.InWidth;
                    if (g.StrideWidth == 1)
                    {
                        var slice = new Span<float>(outRow + owStart, owEnd - owStart);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(inRow + iwStart, owEnd - owStart), w, slice, slice);
                    }
                    else
                    {
                        for (int ow = owStart, iw = iwStart; ow < owEnd; ow++, iw += g.StrideWidth)
                            outRow[ow] += w * inRow[iw];
                    }
                });
            }
        });
    }

    /// <summary>gradInput = depthwiseᵀ(gradOutput, weight). Overwrites gradInput.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardInput(float* gradOutput, float* weight, in Conv2dGeometry shape, float* gradInput)
    {
        // gradOutput [batch, channels, outHeight, outWidth]; gradInput [batch, channels, inHeight, inWidth]
        var g = shape;
        int planes = g.BatchSize * g.InChannels;
        CpuParallel.ForCost(planes, (long)g.OutPlane * g.KernelHeight * g.KernelWidth * 2, (from, to) =>
        {
            for (int p = from; p < to; p++)
            {
                int channel = p % g.InChannels;
                float* source = gradOutput + (long)p * g.OutPlane;
                float* target = gradInput + (long)p * g.InPlane;
                float* filter = weight + (long)channel * g.KernelHeight * g.KernelWidth;
                new Span<float>(target, g.InPlane).Clear();
                ForEachTap(g, (oh, ih, kTap, owStart, owEnd, iwStart) =>
                {
                    float w = filter[kTap];
                    float* gradRow = source + (long)oh * g.OutWidth;
                    float* inRow = target + (long)ih * g.InWidth;
                    if (g.StrideWidth == 1)
                    {
                        var slice = new Span<float>(inRow + iwStart, owEnd - owStart);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(gradRow + owStart, owEnd - owStart), w, slice, slice);
                    }
                    else
                    {
                        for (int ow = owStart, iw = iwStart; ow < owEnd; ow++, iw += g.StrideWidth)
                            inRow[iw] += w * gradRow[ow];
                    }
                });
            }
        });
    }

    /// <summary>gradWeight[c, kh, kw] = Σ over images and outputs of gradOutput · input at the tap. Overwrites gradWeight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardWeight(float* input, float* gradOutput, in Conv2dGeometry shape, float* gradWeight)
    {
        // input [batch, channels, inHeight, inWidth]; gradOutput [batch, channels, outHeight, outWidth]; gradWeight [channels, 1, kH, kW]
        var g = shape;
        int taps = g.KernelHeight * g.KernelWidth;
        CpuParallel.ForCost(g.InChannels, (long)g.BatchSize * g.OutPlane * taps * 2, (from, to) =>
        {
            var sums = new double[taps];
            for (int channel = from; channel < to; channel++)
            {
                Array.Clear(sums);
                for (int n = 0; n < g.BatchSize; n++)
                {
                    long p = (long)n * g.InChannels + channel;
                    float* source = input + p * g.InPlane;
                    float* grad = gradOutput + p * g.OutPlane;
                    ForEachTap(g, (oh, ih, kTap, owStart, owEnd, iwStart) =>
                    {
                        float* gradRow = grad + (long)oh * g.OutWidth;
                        float* inRow = source + (long)ih * g.InWidth;
                        if (g.StrideWidth == 1)
                        {
                            sums[kTap] += TensorPrimitives.Dot(new ReadOnlySpan<float>(gradRow + owStart, owEnd - owStart), new ReadOnlySpan<float>(inRow + iwStart, owEnd - owStart));
                        }
                        else
                        {
                            float sum = 0f;
                            for (int ow = owStart, iw = iwStart; ow < owEnd; ow++, iw += g.StrideWidth)
                                sum += gradRow[ow] * inRow[iw];
                            sums[kTap] += sum;
                        }
                    });
                }
                for (int k = 0; k < taps; k++)
                    gradWeight[(long)channel * taps + k] = (float)sums[k];
            }
        });
    }

    private delegate void TapBody(int outRow, int inRow, int tap, int outColumnStart, int outColumnEnd, int inColumnStart);

    /// <summary>
    /// Calls body for every (output row, filter tap) whose input row is inside the image, with the
    /// range of output columns whose input column is inside too (so the body needs no bounds checks).
    /// </summary>
    private static void ForEachTap(in Conv2dGeometry g, TapBody body)
    {
        for (int oh = 0; oh < g.OutHeight; oh++)
            for (int kh = 0; kh < g.KernelHeight; kh++)
            {
                int ih = oh * g.StrideHeight - g.PaddingHeight + kh * g.DilationHeight;
                if ((uint)ih >= (uint)g.InHeight) continue;
                for (int kw = 0; kw < g.KernelWidth; kw++)
                {
                    int offset = kw * g.DilationWidth - g.PaddingWidth;
                    // valid ow: 0 <= ow * stride + offset < inWidth
                    int owStart = offset >= 0 ? 0 : (-offset + g.StrideWidth - 1) / g.StrideWidth;
                    int owEnd = Math.Min(g.OutWidth, (g.InWidth - offset + g.StrideWidth - 1) / g.StrideWidth);
                    if (owEnd <= owStart) continue;
                    body(oh, ih, kh * g.KernelWidth + kw, owStart, owEnd, owStart * g.StrideWidth + offset);
                }
            }
    }
}
