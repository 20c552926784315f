using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>The sizes of a 2-d pooling as a kernel parameter; the meaning of <see cref="Cpu.Pool2dGeometry"/>.</summary>
public struct PoolShape
{
    public int PlaneCount;
    public int InHeight;
    public int InWidth;
    public int OutHeight;
    public int OutWidth;
    public int KernelHeight;
    public int KernelWidth;
    public int StrideHeight;
    public int StrideWidth;
    public int PaddingHeight;
    public int PaddingWidth;
    public int DilationHeight;
    public int DilationWidth;

    /// <summary>The kernel parameter for a CPU geometry.</summary>
    public static PoolShape From(in Cpu.Pool2dGeometry g) => new()
    {
        PlaneCount = g.PlaneCount, InHeight = g.InHeight, InWidth = g.InWidth, OutHeight = g.OutHeight, OutWidth = g.OutWidth,
        KernelHeight = g.KernelHeight, KernelWidth = g.KernelWidth, StrideHeight = g.StrideHeight, StrideWidth = g.StrideWidth,
        PaddingHeight = g.PaddingHeight, PaddingWidth = g.PaddingWidth, DilationHeight = g.DilationHeight, DilationWidth = g.DilationWidth,
    };
}

/// <summary>
/// Max, average and adaptive average pooling over [planes, height, width], one thread per output
/// element forward. Backward passes gather instead of scattering: one thread per input element adds
/// the contributions of the outputs whose window covers it, in increasing output order, which is the
/// order the CPU kernels accumulate in, so the results are bit-identical and need no atomics.
/// Launch ceil(count / 256) blocks of 256 threads.
/// </summary>
public static partial class GpuPool2d
{
    /// <summary>Window maxima and their flat argmax h·inWidth + w (NaN wins, first maximum kept). Overwrites both outputs.</summary>
    [Kernel]
    public static void MaxForward(
        // [planes, inHeight, inWidth]
        DeviceSpan<float> input,
        PoolShape p,
        // [planes, outHeight, outWidth]
        DeviceSpan<float> output,
        DeviceSpan<long> indices)
    {
        if (!Elementwise.Index(output.Length, out int o))
            return;
        int outPlane = p.OutHeight * p.OutWidth, plane = o / outPlane, at = o - plane * outPlane;
        int oh = at / p.OutWidth, ow = at - oh * p.OutWidth;
        int hStart = oh * p.StrideHeight - p.PaddingHeight;
        int hEnd = Math.Min(hStart + (p.KernelHeight - 1) * p.DilationHeight + 1, p.InHeight);
        while (hStart < 0) hStart += p.DilationHeight;
        int wStart = ow * p.StrideWidth - p.PaddingWidth;
        int wEnd = Math.Min(wStart + (p.KernelWidth - 1) * p.DilationWidth + 1, p.InWidth);
        while (wStart < 0) wStart += p.DilationWidth;
        int source = plane * p.InHeight * p.InWidth;
        int best = hStart * p.InWidth + wStart;
        float bestValue = float.NegativeInfinity;
        for (int ih = hStart; ih < hEnd; ih += p.DilationHeight)
            for (int iw = wStart; iw < wEnd; iw += p.DilationWidth)
            {
                int index = ih * p.InWidth + iw;
                float v = input[source + index];
                if (v > bestValue || float.IsNaN(v))
                {
                    bestValue = v;
                    best = index;
                }
            }
        output[o] = bestValue;
        indices[o] = best;
    }

    /// <summary>gradInput[i] = Σ gradOutput over the windows whose argmax is i. Overwrites gradInput.</summary>
    [Kernel]
    public static void MaxBackward(
        // [planes, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        DeviceSpan<long> indices,
        PoolShape p,
        // [planes, inHeight, inWidth]
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradInput.Length, out int index))
            return;
        int inPlane = p.InHeight * p.InWidth, plane = index / inPlane, at = index - plane * inPlane;
        int ih = at / p.InWidth, iw = at - ih * p.InWidth;
        // Windows start at o·stride − padding and span (k − 1)·dilation + 1.
        int ohFirst = FirstWindow(ih + p.PaddingHeight - (p.KernelHeight - 1) * p.DilationHeight, p.StrideHeight);
        int ohLast = Math.Min((ih + p.PaddingHeight) / p.StrideHeight, p.OutHeight - 1);
        int owFirst = FirstWindow(iw + p.PaddingWidth - (p.KernelWidth - 1) * p.DilationWidth, p.StrideWidth);
        int owLast = Math.Min((iw + p.PaddingWidth) / p.StrideWidth, p.OutWidth - 1);
        int source = plane * p.OutHeight * p.OutWidth;
        float sum = 0f;
        for (int oh = ohFirst; oh <= ohLast; oh++)
            for (int ow = owFirst; ow <= owLast; ow++)
            {
                int o = source + oh * p.OutWidth + ow;
                if (indices[o] == at)
                    sum += gradOutput[o];
            }
        gradInput[index] = sum;
    }

    /// <summary>Window means with PyTorch's divisor rule (the window clipped to the padded input, or to the input). Overwrites output.</summary>
    [Kernel]
    public static void AvgForward(
        // [planes, inHeight, inWidth]
        DeviceSpan<float> input,
        PoolShape p, int countIncludePad,
        // [planes, outHeight, outWidth]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int o))
            return;
        int outPlane = p.OutHeight * p.OutWidth, plane = o / outPlane, at = o - plane * outPlane;
        int oh = at / p.OutWidth, ow = at - oh * p.OutWidth;
        int h0 = 0, h1 = 0, w0 = 0, w1 = 0;
        int divisor = Window(p, oh, ow, countIncludePad, ref h0, ref h1, ref w0, ref w1);
        int source = plane * p.InHeight * p.InWidth;
        float sum = 0f;
        for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++)
                sum += input[source + ih * p.InWidth + iw];
        output[o] = sum / divisor;
    }

    /// <summary>gradInput[i] = Σ gradOutput / divisor over the windows containing i. Overwrites gradInput.</summary>
    [Kernel]
    public static void AvgBackward(
        // [planes, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        PoolShape p, int countIncludePad,
        // [planes, inHeight, inWidth]
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradInput.Length, out int index))
            return;
        int inPlane = p.InHeight * p.InWidth, plane = index / inPlane, at = index - plane * inPlane;
        int ih = at / p.InWidth, iw = at - ih * p.InWidth;
        int ohFirst = FirstWindow(ih + p.PaddingHeight - p.KernelHeight + 1, p.StrideHeight);
        int ohLast = Math.Min((ih + p.PaddingHeight) / p.StrideHeight, p.OutHeight - 1);
        int owFirst = FirstWindow(iw + p.PaddingWidth - p.KernelWidth + 1, p.StrideWidth);
        int owLast = Math.Min((iw + p.PaddingWidth) / p.StrideWidth, p.OutWidth - 1);
        int source = plane * p.OutHeight * p.OutWidth;
        float sum = 0f;
        for (int oh = ohFirst; oh <= ohLast; oh++)
            for (int ow = owFirst; ow <= owLast; ow++)
            {
                int h0 = 0, h1 = 0, w0 = 0, w1 = 0;
                int divisor = Window(p, oh, ow, countIncludePad, ref h0, ref h1, ref w0, ref w1);
                if (ih >= h0 && ih < h1 && iw >= w0 && iw < w1)
                    sum += gradOutput[source + oh * p.OutWidth + ow] / divisor;
            }
        gradInput[index] = sum;
    }

    /// <summary>Adaptive mean over rows [⌊oh·inH/outH⌋, ⌈(oh+1)·inH/outH⌉) and the matching columns. Overwrites output.</summary>
    [Kernel]
    public static void AdaptiveAvgForward(
        // [planes, inHeight, inWidth]
        DeviceSpan<float> input,
        int inHeight, int inWidth, int outHeight, int outWidth,
        // [planes, outHeight, outWidth]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int o))
            return;
        int outPlane = outHeight * outWidth, plane = o / outPlane, at = o - plane * outPlane;
        int oh = at / outWidth, ow = at - oh * outWidth;
        int h0 = oh * inHeight / outHeight, h1 = ((oh + 1) * inHeight + outHeight - 1) / outHeight;
        int w0 = ow * inWidth / outWidth, w1 = ((ow + 1) * inWidth + outWidth - 1) / outWidth;
        int source = plane * inHeight * inWidth;
        float sum = 0f;
        for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++)
                sum += input[source + ih * inWidth + iw];
        output[o] = sum / ((h1 - h0) * (w1 - w0));
    }

    /// <summary>The adjoint of <see cref="AdaptiveAvgForward"/>. Overwrites gradInput.</summary>
    [Kernel]
    public static void AdaptiveAvgBackward(
        // [planes, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        int inHeight, int inWidth, int outHeight, int outWidth,
        // [planes, inHeight, inWidth]
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradInput.Length, out int index))
            return;
        int inPlane = inHeight * inWidth, plane = index / inPlane, at = index - plane * inPlane;
        int ih = at / inWidth, iw = at - ih * inWidth;
        // Output rows whose range holds ih: ⌊ih·outH/inH⌋ … ⌈(ih+1)·outH/inH⌉ − 1.
        int ohFirst = ih * outHeight / inHeight, ohLast = Math.Min(((ih + 1) * outHeight + inHeight - 1) / inHeight - 1, outHeight - 1);
        int owFirst = iw * outWidth / inWidth, owLast = Math.Min(((iw + 1) * outWidth + inWidth - 1) / inWidth - 1, outWidth - 1);
        int source = plane * outHeight * outWidth;
        float sum = 0f;
        for (int oh = ohFirst; oh <= ohLast; oh++)
        {
            int h0 = oh * inHeight / outHeight, h1 = ((oh + 1) * inHeight + outHeight - 1) / outHeight;
            for (int ow = owFirst; ow <= owLast; ow++)
            {
                int w0 = ow * inWidth / outWidth, w1 = ((ow + 1) * inWidth + outWidth - 1) / outWidth;
                if (ih >= h0 && ih < h1 && iw >= w0 && iw < w1)
                    sum += gradOutput[source + oh * outWidth + ow] / ((h1 - h0) * (w1 - w0));
            }
        }
        gradInput[index] = sum;
    }

    /// <summary>
    /// Global average pooling: block p sums plane p with all its threads (a plane per thread would leave
    /// most of the GPU idle and serialise long sums). Overwrites output. Launch planeCount blocks of 256 threads.
    /// </summary>
    [Kernel]
    public static void GlobalAvgForward(
        // [planes, planeSize]
        DeviceSpan<float> input,
        int planeSize,
        // [planes]
        DeviceSpan<float> output)
    {
        DeviceSpan<float> partial = Shared.Allocate<float>(BlockSums.Warps);
        int plane = Grid.BlockX;
        float sum = 0f;
        for (int i = Grid.ThreadX; i < planeSize; i += BlockSums.Threads)
            sum += input[plane * planeSize + i];
        float total = BlockSums.Sum(sum, partial);
        if (Grid.ThreadX == 0)
            output[plane] = total / planeSize;
    }

    /// <summary>The first window index o ≥ 0 with o·stride ≥ reach (reach may be negative).</summary>
    private static int FirstWindow(int reach, int stride) => reach <= 0 ? 0 : (reach + stride - 1) / stride;

    /// <summary>The clipped window of (oh, ow) and its divisor, as <see cref="Cpu.AvgPool2d"/> computes them.</summary>
    private static int Window(PoolShape p, int oh, int ow, int countIncludePad, ref int h0, ref int h1, ref int w0, ref int w1)
    {
        h0 = oh * p.StrideHeight - p.PaddingHeight;
        w0 = ow * p.StrideWidth - p.PaddingWidth;
        h1 = Math.Min(h0 + p.KernelHeight, p.InHeight + p.PaddingHeight);
        w1 = Math.Min(w0 + p.KernelWidth, p.InWidth + p.PaddingWidth);
        int padded = (h1 - h0) * (w1 - w0);
        h0 = Math.Max(h0, 0);
        w0 = Math.Max(w0, 0);
        h1 = Math.Min(h1, p.InHeight);
        w1 = Math.Min(w1, p.InWidth);
        return countIncludePad != 0 ? padded : (h1 - h0) * (w1 - w0);
    }
}
