using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Sizes of a 2-d pooling over planeCount = batch * channels independent planes
/// [inHeight, inWidth] -> [outHeight, outWidth]; window start oh * stride - padding, taps every dilation.
/// </summary>
public readonly record struct Pool2dGeometry
{
    public int PlaneCount { get; init; }
    public int InHeight { get; init; }
    public int InWidth { get; init; }
    public int OutHeight { get; init; }
    public int OutWidth { get; init; }
    public int KernelHeight { get; init; }
    public int KernelWidth { get; init; }
    public int StrideHeight { get; init; }
    public int StrideWidth { get; init; }
    public int PaddingHeight { get; init; }
    public int PaddingWidth { get; init; }
    public int DilationHeight { get; init; }
    public int DilationWidth { get; init; }

    public int InPlane => InHeight * InWidth;
    public int OutPlane => OutHeight * OutWidth;
}

/// <summary>Max pooling with argmax indices (flat h * inWidth + w within the plane, as PyTorch's return_indices).</summary>
public static unsafe class MaxPool2d
{
    /// <summary>Overwrites output and indices. NaN wins a window, as in PyTorch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* input, in Pool2dGeometry shape, float* output, long* indices)
    {
        // input [planes, inHeight, inWidth]; output, indices [planes, outHeight, outWidth]
        var p = shape;
        bool twoByTwo = p.KernelHeight == 2 && p.KernelWidth == 2 && p.StrideHeight == 2 && p.StrideWidth == 2
            && p.PaddingHeight == 0 && p.PaddingWidth == 0 && p.DilationHeight == 1 && p.DilationWidth == 1
            && 2 * p.OutHeight <= p.InHeight && 2 * p.OutWidth <= p.InWidth;
        CpuParallel.ForCost(p.PlaneCount, (long)p.OutPlane * p.KernelHeight * p.KernelWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* source = input + (long)plane * p.InPlane;
                long offset = (long)plane * p.OutPlane;
                if (twoByTwo)
                {
                    TwoByTwo(source, p, output + offset, indices + offset);
                    continue;
                }
                for (int oh = 0; oh < p.OutHeight; oh++)
                {
                    int hStart = oh * p.StrideHeight - p.PaddingHeight;
                    int hEnd = Math.Min(hStart + (p.KernelHeight - 1) * p.DilationHeight + 1, p.InHeight);
                    while (hStart < 0) hStart += p.DilationHeight;
                    for (int ow = 0; ow < p.OutWidth; ow++)
                    {
                        int wStart = ow * p.StrideWidth - p.PaddingWidth;
                        int wEnd = Math.Min(wStart + (p.KernelWidth - 1) * p.DilationWidth + 1, p.InWidth);
                        while (wStart < 0) wStart += p.DilationWidth;
                        int best = hStart * p.InWidth + wStart;
                        float bestValue = float.NegativeInfinity;
                        for (int ih = hStart; ih < hEnd; ih += p.DilationHeight)
                            for (int iw = wStart; iw < wEnd; iw += p.DilationWidth)
                            {
                                int index = ih * p.InWidth + iw;
                                float v = source[index];
                                if (v > bestValue || float.IsNaN(v))
                                {
                                    bestValue = v;
                                    best = index;
                                }
                            }
                        output[offset + oh * p.OutWidth + ow] = bestValue;
                        indices[offset + oh * p.OutWidth + ow] = best;
                    }
                }
            }
        });
    }

    /// <summary>
    /// The common 2×2, stride-2, unpadded window as straight-line code: the same visiting order and
    /// NaN rule as the general loop (row-major window, a later NaN or a strictly larger value wins).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwoByTwo(float* source, in Pool2dGeometry p, float* output, long* indices)
    {
        int inW = p.InWidth;
        for (int oh = 0; oh < p.OutHeight; oh++)
        {
            int top = 2 * oh * inW;
            float* row0 = source + top;
            float* row1 = row0 + inW;
            int ow = 0;
            if (Avx512F.IsSupported)
            {
                // 16 windows at a time: the even and odd columns of two rows, compared in the
                // scalar order (branchy scalar code mispredicts on every other window).
                var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                var odd = even + Vector512<int>.One;
                for (; ow <= p.OutWidth - 16; ow += 16)
                {
                    int w = 2 * ow;
                    var a0 = Vector512.Load(row0 + w);
                    var a1 = Vector512.Load(row0 + w + 16);
                    var b0 = Vector512.Load(row1 + w);
                    var b1 = Vector512.Load(row1 + w + 16);
                    var best = Avx512F.PermuteVar16x32x2(a0, even, a1);
                    var index = Vector512.Create(top + w) + even;
                    Take(ref best, ref index, Avx512F.PermuteVar16x32x2(a0, odd, a1), Vector512.Create(top + w + 1) + even);
                    Take(ref best, ref index, Avx512F.PermuteVar16x32x2(b0, even, b1), Vector512.Create(top + inW + w) + even);
                    Take(ref best, ref index, Avx512F.PermuteVar16x32x2(b0, odd, b1), Vector512.Create(top + inW + w + 1) + even);
                    best.Store(output + oh * p.OutWidth + ow);
                    long* indexOut = indices + oh * p.OutWidth + ow;
                    Avx512F.ConvertToVector512Int64(index.GetLower()).Store(indexOut);
                    Avx512F.ConvertToVector512Int64(index.GetUpper()).Store(indexOut + 8);
                }
            }
            for (; ow < p.OutWidth; ow++)
            {
                int w = 2 * ow;
                float best = row0[w];
                int bestIndex = top + w;
                float v = row0[w + 1];
                if (v > best || float.IsNaN(v)) { best = v; bestIndex = top + w + 1; }
                v = row1[w];
                if (v > best || float.IsNaN(v)) { best = v; bestIndex = top + inW + w; }
                v = row1[w + 1];
                if (v > best || float.IsNaN(v)) { best = v; bestIndex = top + inW + w + 1; }
                output[oh * p.OutWidth + ow] = best;
                indices[oh * p.OutWidth + ow] = bestIndex;
            }
        }
    }

    /// <summary>Where candidate &gt; best or candidate is NaN, takes the candidate and its index (the scalar rule, per lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref Vector512<float> best, ref Vector512<int> index, Vector512<float> candidate, Vector512<int> candidateIndex)
    {
        var wins = Vector512.GreaterThan(candidate, best) | ~Vector512.Equals(candidate, candidate);
        best = Vector512.ConditionalSelect(wins, candidate, best);
        index = Vector512.ConditionalSelect(wins.AsInt32(), candidateIndex, index);
    }

    /// <summary>gradInput[argmax] += gradOutput. Overwrites gradInput (zeroes it first).</summary>
    public static void Backward(float* gradOutput, long* indices, in Pool2dGeometry shape, float* gradInput)
    {
        // gradOutput, indices [planes, outHeight, outWidth]; gradInput [planes, inHeight, inWidth]
        var p = shape;
        CpuParallel.ForCost(p.PlaneCount, p.OutPlane + p.InPlane, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* target = gradInput + (long)plane * p.InPlane;
                new Span<float>(target, p.InPlane).Clear();
                long offset = (long)plane * p.OutPlane;
                for (int i = 0; i < p.OutPlane; i++)
                    target[indices[offset + i]] += gradOutput[offset + i];
            }
        });
    }
}

/// <summary>Average pooling (fixed windows, PyTorch's divisor rules) and adaptive average pooling.</summary>
public static unsafe class AvgPool2d
{
    /// <summary>Overwrites output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* input, in Pool2dGeometry shape, bool countIncludePad, float* output)
    {
        // input [planes, inHeight, inWidth]; output [planes, outHeight, outWidth]
        var p = shape;
        CpuParallel.ForCost(p.PlaneCount, (long)p.OutPlane * p.KernelHeight * p.KernelWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* source = input + (long)plane * p.InPlane;
                for (int oh = 0; oh < p.OutHeight; oh++)
                    for (int ow = 0; ow < p.OutWidth; ow++)
                    {
                        var (h0, h1, w0, w1, divisor) = Window(p, oh, ow, countIncludePad);
                        float sum = 0;
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++)
                                sum += source[ih * p.InWidth + iw];
                        output[(long)plane * p.OutPlane + oh * p.OutWidth + ow] = sum / divisor;
                    }
            }
        });
    }

    /// <summary>Spreads gradOutput / divisor over each window. Overwrites gradInput.</summary>
    public static void Backward(float* gradOutput, in Pool2dGeometry shape, bool countIncludePad, float* gradInput)
    {
        // gradOutput [planes, outHeight, outWidth]; gradInput [planes, inHeight, inWidth]
        var p = shape;
        CpuParallel.ForCost(p.PlaneCount, (long)p.OutPlane * p.KernelHeight * p.KernelWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* target = gradInput + (long)plane * p.InPlane;
                new Span<float>(target, p.InPlane).Clear();
                for (int oh = 0; oh < p.OutHeight; oh++)
                    for (int ow = 0; ow < p.OutWidth; ow++)
                    {
                        var (h0, h1, w0, w1, divisor) = Window(p, oh, ow, countIncludePad);
                        float share = gradOutput[(long)plane * p.OutPlane + oh * p.OutWidth + ow] / divisor;
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++)
                                target[ih * p.InWidth + iw] += share;
                    }
            }
        });
    }

    /// <summary>The clipped window of output (oh, ow) and its divisor: the window clipped to the padded input when padding counts, else to the input.</summary>
    private static (int H0, int H1, int W0, int W1, int Divisor) Window(in Pool2dGeometry p, int oh, int ow, bool countIncludePad)
    {
        int h0 = oh * p.StrideHeight - p.PaddingHeight, w0 = ow * p.StrideWidth - p.PaddingWidth;
        int h1 = Math.Min(h0 + p.KernelHeight, p.InHeight + p.PaddingHeight);
        int w1 = Math.Min(w0 + p.KernelWidth, p.InWidth + p.PaddingWidth);
        int padded = (h1 - h0) * (w1 - w0);
        h0 = Math.Max(h0, 0);
        w0 = Math.Max(w0, 0);
        h1 = Math.Min(h1, p.InHeight);
        w1 = Math.Min(w1, p.InWidth);
        return (h0, h1, w0, w1, countIncludePad ? padded : (h1 - h0) * (w1 - w0));
    }

    /// <summary>Adaptive average: output (oh, ow) averages rows [floor(oh * inH / outH), ceil((oh + 1) * inH / outH)) and likewise columns. Overwrites output.</summary>
    public static void AdaptiveForward(float* input, int planeCount, int inHeight, int inWidth, int outHeight, int outWidth, float* output)
    {
        // input [planes, inHeight, inWidth]; output [planes, outHeight, outWidth]
        CpuParallel.ForCost(planeCount, (long)inHeight * inWidth + outHeight * outWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* source = input + (long)plane * inHeight * inWidth;
                for (int oh = 0; oh < outHeight; oh++)
                {
                    var (h0, h1) = AdaptiveRange(oh, inHeight, outHeight);
                    for (int ow = 0; ow < outWidth; ow++)
                    {
                        var (w0, w1) = AdaptiveRange(ow, inWidth, outWidth);
                        float sum = 0;
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++)
                                sum += source[ih * inWidth + iw];
                        output[((long)plane * outHeight + oh) * outWidth + ow] = sum / ((h1 - h0) * (w1 - w0));
                    }
                }
            }
        });
    }

    /// <summary>The adjoint of <see cref="AdaptiveForward"/>. Overwrites gradInput.</summary>
    public static void AdaptiveBackward(float* gradOutput, int planeCount, int inHeight, int inWidth, int outHeight, int outWidth, float* gradInput)
    {
        // gradOutput [planes, outHeight, outWidth]; gradInput [planes, inHeight, inWidth]
        CpuParallel.ForCost(planeCount, (long)inHeight * inWidth + outHeight * outWidth, (from, to) =>
        {
            for (int plane = from; plane < to; plane++)
            {
                float* target = gradInput + (long)plane * inHeight * inWidth;
                new Span<float>(target, inHeight * inWidth).Clear();
                for (int oh = 0; oh < outHeight; oh++)
                {
                    var (h0, h1) = AdaptiveRange(oh, inHeight, outHeight);
                    for (int ow = 0; ow < outWidth; ow++)
                    {
                        var (w0, w1) = AdaptiveRange(ow, inWidth, outWidth);
                        float share = gradOutput[((long)plane * outHeight + oh) * outWidth + ow] / ((h1 - h0) * (w1 - w0));
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++)
                                target[ih * inWidth + iw] += share;
                    }
                }
            }
        });
    }

    private static (int Start, int End) AdaptiveRange(int index, int inSize, int outSize) =>
        ((int)((long)index * inSize / outSize), (int)(((long)(index + 1) * inSize + outSize - 1) / outSize));
}
