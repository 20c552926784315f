using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Sizes of one 2-d convolution from an input [batch, inChannels, inHeight, inWidth] to an output
/// [batch, outChannels, outHeight, outWidth] with a weight [outChannels, inChannels / groups,
/// kernelHeight, kernelWidth]. A transposed convolution uses the same geometry read backwards
/// (its input is this geometry's output).
/// </summary>
public readonly record struct Conv2dGeometry
{
    public int BatchSize { get; init; }
    public int InChannels { get; init; }
    public int InHeight { get; init; }
    public int InWidth { get; init; }
    public int OutChannels { get; init; }
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
    public int Groups { get; init; }

    public int InChannelsPerGroup => InChannels / Groups;
    public int OutChannelsPerGroup => OutChannels / Groups;

    /// <summary>Rows of the column matrix of one group: inChannelsPerGroup * kernelHeight * kernelWidth.</summary>
    public int PatchSize => InChannelsPerGroup * KernelHeight * KernelWidth;

    public int InPlane => InHeight * InWidth;
    public int OutPlane => OutHeight * OutWidth;

    /// <summary>A 1x1 kernel with stride 1 and no padding: the column matrix is the input itself.</summary>
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideHeight == 1 && StrideWidth == 1
        && PaddingHeight == 0 && PaddingWidth == 0 && InHeight == OutHeight && InWidth == OutWidth;
}

/// <summary>
/// 2-d convolution as im2col + GEMM per image and group (ConvIm2col); depthwise shapes go to
/// <see cref="DepthwiseConv2d"/> (ConvDepthwiseDirect). The transposed convolution
/// is <see cref="BackwardInput"/> of the same geometry, so both ops share these kernels.
/// </summary>
public static unsafe class Conv2d
{
    /// <summary>output = conv(input, weight) + bias. Overwrites output. bias may be null.</summary>
    public static void Forward(float* input, float* weight, float* bias, in Conv2dGeometry shape, float* output)
    {
        // input  [batch, inChannels, inHeight, inWidth]
        // weight [outChannels, inChannelsPerGroup, kernelHeight, kernelWidth]
        // output [batch, outChannels, outHeight, outWidth]
        if (DepthwiseConv2d.Applies(shape))
        {
            DepthwiseConv2d.Forward(input, weight, bias, shape, output);
            return;
        }
        var geometry = shape;
        int outPerGroup = geometry.OutChannelsPerGroup, patch = geometry.PatchSize, plane = geometry.OutPlane;
        PerImage(geometry, patch * plane, (image, columns) =>
        {
            for (int g = 0; g < geometry.Groups; g++)
            {
                float* source = input + ((long)image * geometry.InChannels + (long)g * geometry.InChannelsPerGroup) * geometry.InPlane;
                float* cols = geometry.IsPointwise ? source : columns;
                if (!geometry.IsPointwise)
                    Im2col(source, geometry, cols);
                float* target = output + ((long)image * geometry.OutChannels + (long)g * outPerGroup) * plane;
                Gemm.Run(false, false, outPerGroup, plane, patch, 1f, weight + (long)g * outPerGroup * patch, patch, cols, plane, 0f, target, plane);
                if (bias != null)
                    for (int o = 0; o < outPerGroup; o++)
                    {
                        var row = new Span<float>(target + (long)o * plane, plane);
                        TensorPrimitives.Add(row, bias[g * outPerGroup + o], row);
                    }
            }
        });
    }

    /// <summary>gradInput = convᵀ(gradOutput, weight). Overwrites gradInput (this is also the transposed convolution's forward).</summary>
    public static void BackwardInput(float* gradOutput, float* weight, in Conv2dGeometry shape, float* gradInput)
    {
        // gradOutput [batch, outChannels, outHeight, outWidth]
        // weight     [outChannels, inChannelsPerGroup, kernelHeight, kernelWidth]
        // gradInput  [batch, inChannels, inHeight, inWidth]
        if (DepthwiseConv2d.Applies(shape))
        {
            DepthwiseConv2d.BackwardInput(gradOutput, weight, shape, gradInput);
            return;
        }
        var geometry = shape;
        int outPerGroup = geometry.OutChannelsPerGroup, patch = geometry.PatchSize, plane = geometry.OutPlane;
        PerImage(geometry, patch * plane, (image, columns) =>
        {
            for (int g = 0; g < geometry.Groups; g++)
            {
                float* target = gradInput + ((long)image * geometry.InChannels + (long)g * geometry.InChannelsPerGroup) * geometry.InPlane;
                float* gradCols = geometry.IsPointwise ? target : columns;
                float* source = gradOutput + ((long)image * geometry.OutChannels + (long)g * outPerGroup) * plane;
                Gemm.Run(true, false, patch, plane, outPerGroup, 1f, weight + (long)g * outPerGroup * patch, patch, source, plane, 0f, gradCols, plane);
                if (!geometry.IsPointwise)
                {
                    new Span<float>(target, geometry.InChannelsPerGroup * geometry.InPlane).Clear();
                    Col2im(gradCols, geometry, target);
                }
            }
        });
    }

    /// <summary>gradWeight = sum over images of gradOutput · im2col(input)ᵀ. Overwrites gradWeight.</summary>
    public static void BackwardWeight(float* input, float* gradOutput, in Conv2dGeometry shape, float* gradWeight)
    {
        // input      [batch, inChannels, inHeight, inWidth]
        // gradOutput [batch, outChannels, outHeight, outWidth]
        // gradWeight [outChannels, inChannelsPerGroup, kernelHeight, kernelWidth]
        if (DepthwiseConv2d.Applies(shape))
        {
            DepthwiseConv2d.BackwardWeight(input, gradOutput, shape, gradWeight);
            return;
        }
        var geometry = shape;
        int outPerGroup = geometry.OutChannelsPerGroup, patch = geometry.PatchSize, plane = geometry.OutPlane;
        new Span<float>(gradWeight, geometry.OutChannels * patch).Clear();
        var buffer = geometry.IsPointwise ? null : GC.AllocateUninitializedArray<float>(patch * plane, pinned: true);
        fixed (float* columns = buffer)
        {
            // Images in sequence (they all add into gradWeight); each GEMM is parallel over its rows.
            for (int image = 0; image < geometry.BatchSize; image++)
                for (int g = 0; g < geometry.Groups; g++)
                {
                    float* source = input + ((long)image * geometry.InChannels + (long)g * geometry.InChannelsPerGroup) * geometry.InPlane;
                    float* cols = geometry.IsPointwise ? source : columns;
                    if (!geometry.IsPointwise)
                        Im2col(source, geometry, cols);
                    float* grad = gradOutput + ((long)image * geometry.OutChannels + (long)g * outPerGroup) * plane;
                    Gemm.Run(false, true, outPerGroup, patch, plane, 1f, grad, plane, cols, plane, 1f, gradWeight + (long)g * outPerGroup * patch, patch);
                }
        }
    }

    /// <summary>gradBias[c] = sum of gradOutput[:, c, :, :]. Overwrites gradBias.</summary>
    public static void BackwardBias(float* gradOutput, int batchSize, int channelCount, int planeSize, float* gradBias)
    {
        // gradOutput [batch, channels, plane]; gradBias [channels]
        CpuParallel.ForCost(channelCount, (long)batchSize * planeSize, (from, to) =>
        {
            for (int c = from; c < to; c++)
            {
                double sum = 0;
                for (int n = 0; n < batchSize; n++)
                    sum += TensorPrimitives.Sum(new ReadOnlySpan<float>(gradOutput + ((long)n * channelCount + c) * planeSize, planeSize));
                gradBias[c] = (float)sum;
            }
        });
    }

    /// <summary>
    /// Unfolds one group of one image: columns[(c * kH + kh) * kW + kw, oh * outW + ow] =
    /// input[c, oh * strideH - padH + kh * dilationH, ow * strideW - padW + kw * dilationW] (0 outside). Overwrites columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2col(float* input, in Conv2dGeometry shape, float* columns)
    {
        // input [inChannelsPerGroup, inHeight, inWidth]; columns [patchSize, outHeight * outWidth]
        int inH = shape.InHeight, inW = shape.InWidth, outH = shape.OutHeight, outW = shape.OutWidth;
        int row = 0;
        for (int c = 0; c < shape.InChannelsPerGroup; c++)
            for (int kh = 0; kh < shape.KernelHeight; kh++)
                for (int kw = 0; kw < shape.KernelWidth; kw++, row++)
                {
                    float* plane = input + (long)c * inH * inW;
                    float* target = columns + (long)row * outH * outW;
                    int wOffset = kw * shape.DilationWidth - shape.PaddingWidth;
                    for (int oh = 0; oh < outH; oh++)
                    {
                        int ih = oh * shape.StrideHeight - shape.PaddingHeight + kh * shape.DilationHeight;
                        float* line = target + oh * outW;
                        if ((uint)ih >= (uint)inH)
                        {
                            new Span<float>(line, outW).Clear();
                            continue;
                        }
                        float* sourceRow = plane + (long)ih * inW;
                        for (int ow = 0; ow < outW; ow++)
                        {
                            int iw = ow * shape.StrideWidth + wOffset;
                            line[ow] = (uint)iw < (uint)inW ? sourceRow[iw] : 0f;
                        }
                    }
                }
    }

    /// <summary>The adjoint of <see cref="Im2col"/>: adds every column entry back to its input position. Accumulates into input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2im(float* columns, in Conv2dGeometry shape, float* input)
    {
        // columns [patchSize, outHeight * outWidth]; input [inChannelsPerGroup, inHeight, inWidth]
        int inH = shape.InHeight, inW = shape.InWidth, outH = shape.OutHeight, outW = shape.OutWidth;
        int row = 0;
        for (int c = 0; c < shape.InChannelsPerGroup; c++)
            for (int kh = 0; kh < shape.KernelHeight; kh++)
                for (int kw = 0; kw < shape.KernelWidth; kw++, row++)
                {
                    float* plane = input + (long)c * inH * inW;
                    float* source = columns + (long)row * outH * outW;
                    int wOffset = kw * shape.DilationWidth - shape.PaddingWidth;
                    for (int oh = 0; oh < outH; oh++)
                    {
                        int ih = oh * shape.StrideHeight - shape.PaddingHeight + kh * shape.DilationHeight;
                        if ((uint)ih >= (uint)inH)
                            continue;
                        float* targetRow = plane + (long)ih * inW;
                        float* line = source + oh * outW;
                        for (int ow = 0; ow < outW; ow++)
                        {
                            int iw = ow * shape.StrideWidth + wOffset;
                            if ((uint)iw < (uint)inW)
                                targetRow[iw] += line[ow];
                        }
                    }
                }
    }

    /// <summary>
    /// Runs body(image, columnBuffer) for every image. With at least as many images as threads the
    /// images run in parallel (each with serial GEMMs and its own column buffer); otherwise images
    /// run in turn and each GEMM goes parallel.
    /// </summary>
    private static void PerImage(Conv2dGeometry shape, int columnSize, ColumnBody body)
    {
        int batch = shape.BatchSize;
        bool pointwise = shape.IsPointwise;
        void Range(int from, int to)
        {
            var buffer = pointwise ? null : GC.AllocateUninitializedArray<float>(columnSize, pinned: true);
            fixed (float* columns = buffer)
            {
                for (int image = from; image < to; image++)
                    body(image, columns);
            }
        }
        if (batch > 1 && batch >= CpuParallel.MaxThreads)
        {
            CpuParallel.For(batch, 1, (from, to) =>
            {
                using var serial = CpuParallel.SerialScope();
                Range(from, to);
            });
        }
        else
        {
            Range(0, batch);
        }
    }

    private delegate void ColumnBody(int image, float* columns);
}
