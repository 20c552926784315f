using Tessera.Engine.Memory;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
/// 2-d convolution, by shape:
/// <list type="bullet">
/// <item>stride 1, one group (3×3 layers): the image is copied once into a zero-padded buffer and
/// the packed GEMM reads each patch row in place from it (ConvPaddedRows, <see cref="PaddedRows"/>);
/// the input gradient is the same kernel on the flipped weight, and the weight gradient reads the
/// padded rows in place as its A operand;</item>
/// <item>other strides (the 7×7 stem): im2col written directly in GEMM panel layout by masked
/// AVX-512 loads (ConvIm2colPanels), the weight packed once per call;</item>
/// <item>1×1 stride 1: the image is the column matrix (one GEMM per image);</item>
/// <item>depthwise: <see cref="DepthwiseConv2d"/> (ConvDepthwiseDirect);</item>
/// <item>otherwise, and whenever the reference GEMM is selected (<see cref="GemmVariants"/>):
/// im2col + GEMM per image and group (ConvIm2col), the plain path tests compare against.</item>
/// </list>
/// Images run in parallel with serial GEMMs. The transposed convolution is
/// <see cref="BackwardInput"/> of the same geometry, so both ops share these kernels.
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
        // Unfold a few output rows at a time so the column block stays in L2 while the GEMM reads it.
        int rowsPerChunk = RowsPerChunk(geometry);
        // The panel path needs the packed AVX-512 GEMM (the default where supported) and serial GEMMs.
        bool panels = ReferenceEquals(GemmVariants.Default, GemmVariants.Avx512Packed) && geometry.BatchSize >= CpuParallel.MaxThreads;
        if (panels && PaddedRows.Applies(geometry))
        {
            ForwardPaddedRows(input, weight, bias, geometry, output);
            return;
        }
        int panelFloats = patch * RoundUpToPanel(rowsPerChunk * geometry.OutWidth);
        long packedGroup = panels ? GemmAvx512Packed.PackedASize(outPerGroup, patch) : 0;
        using var packedWeights = CpuMemoryPool.RentFloats(geometry.Groups * packedGroup);
        float* packedWeight = packedWeights.Floats;
        for (int g = 0; panels && g < geometry.Groups; g++)
            GemmAvx512Packed.PackWholeA(outPerGroup, patch, weight + (long)g * outPerGroup * patch, patch, packedWeight + g * packedGroup);
        PerImage(geometry, Math.Max(patch * rowsPerChunk * geometry.OutWidth, panelFloats), (image, columns) =>
        {
            for (int g = 0; g < geometry.Groups; g++)
            {
                float* source = input + ((long)image * geometry.InChannels + (long)g * geometry.InChannelsPerGroup) * geometry.InPlane;
                float* target = output + ((long)image * geometry.OutChannels + (long)g * outPerGroup) * plane;
                float* groupWeight = weight + (long)g * outPerGroup * patch;
                if (geometry.IsPointwise)
                {
                    Gemm.Run(false, false, outPerGroup, plane, patch, 1f, groupWeight, patch, source, plane, 0f, target, plane);
                }
                else if (panels)
                {
                    // Unfold straight into GEMM panels (ConvIm2colPanels): no column block to copy again.
                    for (int oh = 0; oh < geometry.OutHeight; oh += rowsPerChunk)
                    {
                        int rowsHere = Math.Min(rowsPerChunk, geometry.OutHeight - oh);
                        int pixels = rowsHere * geometry.OutWidth;
                        Im2colPanels(source, geometry, columns, oh, rowsHere);
                        GemmAvx512Packed.RunPrepacked(outPerGroup, pixels, patch, packedWeight + (g * packedGroup), columns, target + (long)oh * geometry.OutWidth, plane);
                    }
                }
                else
                {
                    for (int oh = 0; oh < geometry.OutHeight; oh += rowsPerChunk)
                    {
                        int rowsHere = Math.Min(rowsPerChunk, geometry.OutHeight - oh);
                        int pixels = rowsHere * geometry.OutWidth;
                        Im2col(source, geometry, columns, oh, rowsHere);
                        Gemm.Run(false, false, outPerGroup, pixels, patch, 1f, groupWeight, patch, columns, pixels, 0f, target + (long)oh * geometry.OutWidth, plane);
                    }
                }
                if (bias != null)
                    for (int o = 0; o < outPerGroup; o++)
                    {
                        var row = new Span<float>(target + (long)o * plane, plane);
                        TensorPrimitives.Add(row, bias[g * outPerGroup + o], row);
                    }
            }
        });
    }

    /// <summary>
    /// Sizes for <see cref="ForwardPaddedRows"/>: the image is copied once into a zero-padded
    /// buffer of width Wp = inWidth + padWidth (each row is padWidth zeros, then the row: those
    /// zeros are also the previous row's right border, which a read running past the end of a row
    /// reaches), and the GEMM runs over "padded pixels" r·Wp + x, of which x &lt; outWidth are
    /// real. Then the row of patch entry (c, kh, kw) in the column matrix is one contiguous run of
    /// the padded image, which the GEMM reads in place (<see cref="GemmAvx512Packed.RunIndirectSlice"/>):
    /// no im2col pass and no bounds checks, at the price of computing Wp − outWidth = padWidth
    /// throw-away columns per row. (Stride 1: a read at row position ow + kw·dW ≤ Wp + padW − 1
    /// runs at most padW − 1 into the next row's zeros.)
    /// </summary>
    private readonly record struct PaddedRows(int Width, int Height, int RowsPerChunk, int ImageFloats, int OutputFloats)
    {
        /// <summary>Stride 1 both ways, and throw-away columns at most 1/8 of the work.</summary>
        public static bool Applies(in Conv2dGeometry g) =>
            Avx512F.IsSupported && !g.IsPointwise && g.StrideHeight == 1 && g.StrideWidth == 1 && g.Groups == 1
            && 8 * g.PaddingWidth <= g.OutWidth;

        public static PaddedRows For(in Conv2dGeometry g)
        {
            int width = g.InWidth + g.PaddingWidth, height = g.InHeight + 2 * g.PaddingHeight;
            int maxRows = Math.Clamp(ColumnChunkFloats / Math.Max(g.PatchSize * width, 1), 1, g.OutHeight);
            // Of the chunk heights from half to twice that, the one whose last panel wastes the least
            // (30-wide rows: 16 rows = 480 pixels = 15 full panels, where 7 rows leave 14 of 224 empty).
            int rows = maxRows;
            double bestWaste = double.MaxValue;
            for (int candidate = Math.Min(2 * maxRows, g.OutHeight); candidate >= Math.Max(1, maxRows / 2); candidate--)
            {
                int pixels = candidate * width;
                double waste = (double)(RoundUpToPanel(pixels) - pixels) / pixels;
                if (waste < bestWaste - 1e-9)
                {
                    bestWaste = waste;
                    rows = candidate;
                }
            }
            // Slack past the last plane: the last panel of the last chunk reads up to (kW − 1)·dilation + 31 floats beyond it.
            int imageFloats = g.InChannelsPerGroup * height * width + width + 2 * GemmAvx512Packed.NR + g.KernelWidth * g.DilationWidth;
            return new PaddedRows(width, height, rows, imageFloats, g.OutChannelsPerGroup * rows * width);
        }
    }

    /// <summary>The stride-1 forward through <see cref="PaddedRows"/> (ConvPaddedRows).</summary>
    private static void ForwardPaddedRows(float* input, float* weight, float* bias, Conv2dGeometry geometry, float* output)
    {
        var layout = PaddedRows.For(geometry);
        int outChannels = geometry.OutChannels, patch = geometry.PatchSize, plane = geometry.OutPlane, outW = geometry.OutWidth;
        int width = layout.Width;
        using var packedWeight = CpuMemoryPool.RentFloats(GemmAvx512Packed.PackedASize(outChannels, patch));
        float* packedA = packedWeight.Floats;
        GemmAvx512Packed.PackWholeA(outChannels, patch, weight, patch, packedA);
        int packedRows = (outChannels + GemmAvx512Packed.MR - 1) / GemmAvx512Packed.MR * GemmAvx512Packed.MR;
        int kBlock = GemmAvx512Packed.KBlockFor(patch);
        using var offsetBuffer = CpuMemoryPool.RentFloats(2L * patch);
        long* offsets = (long*)offsetBuffer.Floats;
        PatchOffsets(geometry, layout, offsets);
        PerImage(geometry, layout.ImageFloats + layout.OutputFloats, (image, buffer) =>
        {
            float* padded = buffer, result = padded + layout.ImageFloats;
            PadImage(input + (long)image * geometry.InChannels * geometry.InPlane, geometry, layout, padded);
            float* target = output + (long)image * outChannels * plane;
            for (int oh = 0; oh < geometry.OutHeight; oh += layout.RowsPerChunk)
            {
                int rowsHere = Math.Min(layout.RowsPerChunk, geometry.OutHeight - oh);
                int pixels = rowsHere * width;
                // Patch row (c, kh, kw) of these padded pixels is the run of the padded image at
                // offsets[row] + oh·Wp: the GEMM reads it in place (nothing is unfolded).
                for (int pc = 0; pc < patch; pc += kBlock)
                {
                    int kc = Math.Min(kBlock, patch - pc);
                    GemmAvx512Packed.RunIndirectSlice(outChannels, pixels, kc, packedA + (long)packedRows * pc, padded + (long)oh * width, offsets + pc, result, pixels, pc > 0);
                }
                for (int o = 0; o < outChannels; o++)
                {
                    float* from = result + (long)o * pixels;
                    float* to = target + (long)o * plane + (long)oh * outW;
                    float add = bias != null ? bias[o] : 0f;
                    for (int r = 0; r < rowsHere; r++)
                        CopyRow(from + (long)r * width, to + (long)r * outW, outW, add);
                }
            }
        });
    }

    /// <summary>padded[c, y, x] = input[c, y − padH, x − padW] (x &lt; Wp = inW + padW), 0 in the border and the slack.</summary>
    private static void PadImage(float* input, in Conv2dGeometry g, in PaddedRows layout, float* padded)
    {
        int width = layout.Width, padW = g.PaddingWidth, padH = g.PaddingHeight, inW = g.InWidth;
        long planeFloats = (long)layout.Height * width;
        for (int c = 0; c < g.InChannelsPerGroup; c++)
        {
            float* plane = padded + c * planeFloats;
            new Span<float>(plane, padH * width + padW).Clear();
            for (int y = 0; y < g.InHeight; y++)
            {
                float* line = plane + (long)(y + padH) * width + padW;
                CopyRow(input + ((long)c * g.InHeight + y) * inW, line, inW);
                // the next row's left border, which is this row's right border too
                new Span<float>(line + inW, padW).Clear();
            }
            float* bottom = plane + (long)(g.InHeight + padH) * width + padW;
            new Span<float>(bottom, (int)(plane + planeFloats - bottom)).Clear();
        }
        float* slack = padded + g.InChannelsPerGroup * planeFloats;
        new Span<float>(slack, (int)(padded + layout.ImageFloats - slack)).Clear();
    }

    /// <summary>destination[0, count) = source[0, count) + add with 16-float vectors and a masked tail (rows here are tens of floats: a call to memmove per row cost more than the copy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(float* source, float* destination, int count, float add = 0f)
    {
        var offset = Vector512.Create(add);
        int i = 0;
        for (; i <= count - 16; i += 16)
            (Vector512.Load(source + i) + offset).Store(destination + i);
        if (i < count)
        {
            var mask = Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(count - i)).AsSingle();
            Avx512F.MaskStore(destination + i, mask, Avx512F.MaskLoad(source + i, mask, Vector512<float>.Zero) + offset);
        }
    }

    /// <summary>offsets[(c·kH + kh)·kW + kw] = where patch row (c, kh, kw) starts in the padded image: (c·Hp + kh·dH)·Wp + kw·dW.</summary>
    private static void PatchOffsets(in Conv2dGeometry g, in PaddedRows layout, long* offsets)
    {
        for (int c = 0, row = 0; c < g.InChannelsPerGroup; c++)
            for (int kh = 0; kh < g.KernelHeight; kh++)
                for (int kw = 0; kw < g.KernelWidth; kw++, row++)
                    offsets[row] = ((long)c * layout.Height + kh * g.DilationHeight) * layout.Width + kw * g.DilationWidth;
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
        if (TryBackwardInputAsForward(gradOutput, weight, geometry, gradInput))
            return;
        int outPerGroup = geometry.OutChannelsPerGroup, patch = geometry.PatchSize, plane = geometry.OutPlane;
        int rowsPerChunk = RowsPerChunk(geometry);
        PerImage(geometry, patch * rowsPerChunk * geometry.OutWidth, (image, columns) =>
        {
            for (int g = 0; g < geometry.Groups; g++)
            {
                float* target = gradInput + ((long)image * geometry.InChannels + (long)g * geometry.InChannelsPerGroup) * geometry.InPlane;
                float* source = gradOutput + ((long)image * geometry.OutChannels + (long)g * outPerGroup) * plane;
                float* groupWeight = weight + (long)g * outPerGroup * patch;
                if (geometry.IsPointwise)
                {
                    Gemm.Run(true, false, patch, plane, outPerGroup, 1f, groupWeight, patch, source, plane, 0f, target, plane);
                    continue;
                }
                new Span<float>(target, geometry.InChannelsPerGroup * geometry.InPlane).Clear();
                for (int oh = 0; oh < geometry.OutHeight; oh += rowsPerChunk)
                {
                    int rowsHere = Math.Min(rowsPerChunk, geometry.OutHeight - oh);
                    int pixels = rowsHere * geometry.OutWidth;
                    // gradColumns[patch, pixels] = weightᵀ · gradOutput[:, chunk], then folded back into the image.
                    Gemm.Run(true, false, patch, pixels, outPerGroup, 1f, groupWeight, patch, source + (long)oh * geometry.OutWidth, plane, 0f, columns, pixels);
                    Col2im(columns, geometry, target, oh, rowsHere);
                }
            }
        });
    }

    /// <summary>
    /// For stride 1, the input gradient is itself a stride-1 convolution: of gradOutput, padded by
    /// dilation·(kernel − 1) − padding, with the weight flipped in space and in/out channels swapped.
    /// That runs through <see cref="ForwardPaddedRows"/> (no column matrix, no col2im
    /// accumulation). False when the shape does not qualify (then the caller unfolds as usual).
    /// </summary>
    private static bool TryBackwardInputAsForward(float* gradOutput, float* weight, in Conv2dGeometry g, float* gradInput)
    {
        int padH = g.DilationHeight * (g.KernelHeight - 1) - g.PaddingHeight, padW = g.DilationWidth * (g.KernelWidth - 1) - g.PaddingWidth;
        if (g.StrideHeight != 1 || g.StrideWidth != 1 || g.Groups != 1 || g.IsPointwise || padH < 0 || padW < 0
            || !ReferenceEquals(GemmVariants.Default, GemmVariants.Avx512Packed) || g.BatchSize < CpuParallel.MaxThreads)
            return false;
        var transposed = new Conv2dGeometry
        {
            BatchSize = g.BatchSize,
            InChannels = g.OutChannels, InHeight = g.OutHeight, InWidth = g.OutWidth,
            OutChannels = g.InChannels, OutHeight = g.InHeight, OutWidth = g.InWidth,
            KernelHeight = g.KernelHeight, KernelWidth = g.KernelWidth,
            StrideHeight = 1, StrideWidth = 1, PaddingHeight = padH, PaddingWidth = padW,
            DilationHeight = g.DilationHeight, DilationWidth = g.DilationWidth, Groups = 1,
        };
        if (!PaddedRows.Applies(transposed))
            return false;
        // flipped[c, o, kh, kw] = weight[o, c, kH - 1 - kh, kW - 1 - kw]
        int kH = g.KernelHeight, kW = g.KernelWidth, taps = kH * kW;
        using var flippedBuffer = CpuMemoryPool.RentFloats((long)g.OutChannels * g.InChannels * taps);
        float* flipped = flippedBuffer.Floats;
        for (int o = 0; o < g.OutChannels; o++)
            for (int c = 0; c < g.InChannels; c++)
            {
                float* from = weight + ((long)o * g.InChannels + c) * taps;
                float* to = flipped + ((long)c * g.OutChannels + o) * taps;
                for (int t = 0; t < taps; t++)
                    to[t] = from[taps - 1 - t];
            }
        ForwardPaddedRows(gradOutput, flipped, null, transposed, gradInput);
        return true;
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
        if (ReferenceEquals(GemmVariants.Default, GemmVariants.Avx512Packed) && PaddedRows.Applies(geometry))
        {
            BackwardWeightPaddedRows(input, gradOutput, geometry, gradWeight);
            return;
        }
        int outPerGroup = geometry.OutChannelsPerGroup, patch = geometry.PatchSize, plane = geometry.OutPlane;
        int weightSize = geometry.OutChannels * patch;
        int rowsPerChunk = RowsPerChunk(geometry);
        // Images are summed in fixed groups (each group's partial gradient computed by one task with
        // serial GEMMs), then the partials are added in group order: parallel, yet the same sums
        // whatever the thread count. Partials hold gradWeightᵀ [patch, outPerGroup] per conv group:
        // columns · gradOutputᵀ packs only the small gradOutput transposed, not the big column block.
        int groupCount = (geometry.BatchSize + ImagesPerWeightGroup - 1) / ImagesPerWeightGroup;
        using var partials = CpuMemoryPool.RentFloats((long)groupCount * weightSize);
        {
            float* partialBase = partials.Floats;
            CpuParallel.For(groupCount, 1, (from, to) =>
            {
                using var serial = groupCount > 1 ? CpuParallel.SerialScope() : null;
                using var buffer = CpuMemoryPool.RentFloats(geometry.IsPointwise ? 0 : (long)patch * rowsPerChunk * geometry.OutWidth);
                {
                    float* columns = buffer.Floats;
                    for (int group = from; group < to; group++)
                    {
                        float* target = partialBase + (long)group * weightSize;
                        new Span<float>(target, weightSize).Clear();
                        int end = Math.Min(geometry.BatchSize, (group + 1) * ImagesPerWeightGroup);
                        for (int image = group * ImagesPerWeightGroup; image < end; image++)
                            for (int g = 0; g < geometry.Groups; g++)
                            {
                                float* source = input + ((long)image * geometry.InChannels + (long)g * geometry.InChannelsPerGroup) * geometry.InPlane;
                                float* grad = gradOutput + ((long)image * geometry.OutChannels + (long)g * outPerGroup) * plane;
                                float* groupTarget = target + (long)g * outPerGroup * patch;
                                if (geometry.IsPointwise)
                                {
                                    Gemm.Run(false, true, patch, outPerGroup, plane, 1f, source, plane, grad, plane, 1f, groupTarget, outPerGroup);
                                    continue;
                                }
                                for (int oh = 0; oh < geometry.OutHeight; oh += rowsPerChunk)
                                {
                                    int rowsHere = Math.Min(rowsPerChunk, geometry.OutHeight - oh);
                                    int pixels = rowsHere * geometry.OutWidth;
                                    Im2col(source, geometry, columns, oh, rowsHere);
                                    // gradWeightᵀ += columns · gradOutput[:, chunk]ᵀ
                                    Gemm.Run(false, true, patch, outPerGroup, pixels, 1f, columns, pixels, grad + (long)oh * geometry.OutWidth, plane, 1f, groupTarget, outPerGroup);
                                }
                            }
                    }
                }
            });
            var total = new Span<float>(partialBase, weightSize);
            for (int group = 1; group < groupCount; group++)
                TensorPrimitives.Add(total, new ReadOnlySpan<float>(partialBase + (long)group * weightSize, weightSize), total);
            // gradWeight[g][o, p] = total[g][p, o]
            for (int g = 0; g < geometry.Groups; g++)
            {
                float* sourceT = partialBase + (long)g * outPerGroup * patch;
                float* destination = gradWeight + (long)g * outPerGroup * patch;
                for (int p = 0; p < patch; p++)
                    for (int o = 0; o < outPerGroup; o++)
                        destination[(long)o * patch + p] = sourceT[(long)p * outPerGroup + o];
            }
        }
    }

    /// <summary>
    /// The stride-1 weight gradient through <see cref="PaddedRows"/> (ConvPaddedRowsWeightGradient):
    /// gradWeight[o, (c, kh, kw)] = Σ_q gradOutput'[o, q] · padded[c, kh·dH·Wp + kw·dW + q] over
    /// padded pixels q = oh·Wp + ow, where gradOutput' is gradOutput with zeros in the Wp − outWidth
    /// throw-away columns. Each patch entry's row is a run of the padded image, which the GEMM
    /// reads in place as its A operand (no column matrix, nothing transposed but gradOutput). Images are summed in fixed groups, as in
    /// the unfolding path, so the result does not depend on the thread count.
    /// </summary>
    private static void BackwardWeightPaddedRows(float* input, float* gradOutput, Conv2dGeometry geometry, float* gradWeight)
    {
        var layout = PaddedRows.For(geometry);
        int outChannels = geometry.OutChannels, patch = geometry.PatchSize, outW = geometry.OutWidth, outH = geometry.OutHeight;
        int width = layout.Width, weightSize = outChannels * patch;
        int pixels = outH * width;
        using var offsetBuffer = CpuMemoryPool.RentFloats(2L * patch);
        long* offsets = (long*)offsetBuffer.Floats;
        PatchOffsets(geometry, layout, offsets);
        int groupCount = (geometry.BatchSize + ImagesPerWeightGroup - 1) / ImagesPerWeightGroup;
        using var partials = CpuMemoryPool.RentFloats((long)groupCount * weightSize);
        float* partialBase = partials.Floats;
        CpuParallel.For(groupCount, 1, (from, to) =>
        {
            using var serial = CpuParallel.SerialScope();
            using var buffer = CpuMemoryPool.RentFloats(layout.ImageFloats + (long)outChannels * pixels);
            float* padded = buffer.Floats, grad = padded + layout.ImageFloats;
            for (int group = from; group < to; group++)
            {
                float* target = partialBase + (long)group * weightSize;
                new Span<float>(target, weightSize).Clear();
                int end = Math.Min(geometry.BatchSize, (group + 1) * ImagesPerWeightGroup);
                for (int image = group * ImagesPerWeightGroup; image < end; image++)
                {
                    PadImage(input + (long)image * geometry.InChannels * geometry.InPlane, geometry, layout, padded);
                    float* source = gradOutput + (long)image * outChannels * geometry.OutPlane;
                    for (int o = 0; o < outChannels; o++)
                        for (int oh = 0; oh < outH; oh++)
                        {
                            float* line = grad + (long)o * pixels + (long)oh * width;
                            CopyRow(source + ((long)o * outH + oh) * outW, line, outW);
                            new Span<float>(line + outW, width - outW).Clear();
                        }
                    // gradWeightᵀ[patch, O] += rows of the padded image · gradᵀ
                    GemmAvx512Packed.AccumulateRowsA(patch, outChannels, pixels, padded, offsets, grad, pixels, target, outChannels);
                }
            }
        });
        var total = new Span<float>(partialBase, weightSize);
        for (int group = 1; group < groupCount; group++)
            TensorPrimitives.Add(total, new ReadOnlySpan<float>(partialBase + (long)group * weightSize, weightSize), total);
        // gradWeight[o, p] = total[p, o]
        for (int p = 0; p < patch; p++)
            for (int o = 0; o < outChannels; o++)
                gradWeight[(long)o * patch + p] = partialBase[(long)p * outChannels + o];
    }

    private static int RoundUpToPanel(int pixels) => (pixels + GemmAvx512Packed.NR - 1) / GemmAvx512Packed.NR * GemmAvx512Packed.NR;

    /// <summary>
    /// <see cref="Im2col"/> written in <see cref="GemmAvx512Packed.RunPrepacked"/>'s panel layout:
    /// panel j holds, for every patch row, the 32 values of pixels 32j..32j+31 of the chunk (zero
    /// past its end). Overwrites panels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2colPanels(float* input, in Conv2dGeometry shape, float* panels, int rowStart, int rowCount)
    {
        const int Width = GemmAvx512Packed.NR;
        int inH = shape.InHeight, inW = shape.InWidth, outW = shape.OutWidth;
        int pixels = rowCount * outW, patch = shape.PatchSize;
        int panelCount = (pixels + Width - 1) / Width;
        bool fast = Avx512F.IsSupported && (shape.StrideWidth == 1 || shape.StrideWidth == 2);
        // The chunk's pixels cut into segments that stay within one output row and one panel; the
        // same cuts serve every patch row, so they are worked out once (no divisions in the loop).
        int maxSegments = rowCount * (outW / Width + 2);
        Span<Segment> segments = maxSegments <= 512 ? stackalloc Segment[maxSegments] : new Segment[maxSegments];
        int segmentCount = 0;
        for (int r = 0; r < rowCount; r++)
            for (int ow = 0; ow < outW;)
            {
                int pixel = r * outW + ow;
                int count = Math.Min(outW - ow, Width - (pixel & (Width - 1)));
                segments[segmentCount++] = new Segment((long)(pixel >> 5) * patch * Width + (pixel & (Width - 1)), (rowStart + r) * shape.StrideHeight - shape.PaddingHeight, ow, count);
                ow += count;
            }
        int tail = panelCount * Width - pixels;
        float* lastPanel = panels + (long)(panelCount - 1) * patch * Width;
        int row = 0;
        for (int c = 0; c < shape.InChannelsPerGroup; c++)
            for (int kh = 0; kh < shape.KernelHeight; kh++)
                for (int kw = 0; kw < shape.KernelWidth; kw++, row++)
                {
                    float* plane = input + (long)c * inH * inW;
                    int wOffset = kw * shape.DilationWidth - shape.PaddingWidth;
                    int hOffset = kh * shape.DilationHeight;
                    float* rowBase = panels + (long)row * Width;
                    var (owStart, owEnd) = ValidColumns(wOffset, shape.StrideWidth, inW, outW);
                    foreach (ref readonly var segment in segments[..segmentCount])
                    {
                        float* line = rowBase + segment.Offset;
                        int ih = segment.InputRow + hOffset, ow0 = segment.OutColumn, count = segment.Count;
                        if ((uint)ih >= (uint)inH)
                        {
                            new Span<float>(line, count).Clear();
                        }
                        else if (fast)
                        {
                            // Masked AVX-512 loads: lanes outside the input row read nothing and come back 0.
                            CopySegment(plane + (long)ih * inW, ow0 * shape.StrideWidth + wOffset, inW, shape.StrideWidth, line, count);
                        }
                        else
                        {
                            float* sourceRow = plane + (long)ih * inW;
                            int validStart = Math.Clamp(owStart, ow0, ow0 + count), validEnd = Math.Clamp(owEnd, validStart, ow0 + count);
                            new Span<float>(line, validStart - ow0).Clear();
                            for (int ow = validStart; ow < validEnd; ow++)
                                line[ow - ow0] = sourceRow[ow * shape.StrideWidth + wOffset];
                            new Span<float>(line + (validEnd - ow0), ow0 + count - validEnd).Clear();
                        }
                    }
                    if (tail > 0)
                        new Span<float>(lastPanel + (long)row * Width + (Width - tail), tail).Clear();
                }
    }

    /// <summary>One run of a chunk's pixels inside one output row and one 32-pixel panel (see <see cref="Im2colPanels"/>).</summary>
    private readonly record struct Segment(long Offset, int InputRow, int OutColumn, int Count);

    /// <summary>
    /// line[l] = row[start + l * stride] for l in [0, count) (count ≤ 32, stride 1 or 2), 0 where that
    /// index falls outside [0, width). Masked loads never touch memory outside the row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopySegment(float* row, int start, int width, int stride, float* line, int count)
    {
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var zero = Vector512<float>.Zero;
        var lower = Vector512.Create(-start);
        var upper = Vector512.Create(width - start);
        for (int half = 0; half < count; half += 16)
        {
            var store = Vector512.LessThan(lane, Vector512.Create(count - half)).AsSingle();
            Vector512<float> values;
            if (stride == 1)
            {
                var index = lane + Vector512.Create(half);
                var valid = (Vector512.GreaterThanOrEqual(index, lower) & Vector512.LessThan(index, upper)).AsSingle();
                values = Avx512F.MaskLoad(row + start + half, valid, zero);
            }
            else
            {
                // 32 consecutive floats, then the even ones.
                var index = lane + Vector512.Create(2 * half);
                var index2 = index + Vector512.Create(16);
                var valid = (Vector512.GreaterThanOrEqual(index, lower) & Vector512.LessThan(index, upper)).AsSingle();
                var valid2 = (Vector512.GreaterThanOrEqual(index2, lower) & Vector512.LessThan(index2, upper)).AsSingle();
                var low = Avx512F.MaskLoad(row + start + 2 * half, valid, zero);
                var high = Avx512F.MaskLoad(row + start + 2 * half + 16, valid2, zero);
                values = Avx512F.PermuteVar16x32x2(low, Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), high);
            }
            Avx512F.MaskStore(line + half, store, values);
        }
    }

    /// <summary>Output columns [start, end) whose input column ow * stride + offset lies in [0, inWidth).</summary>
    private static (int Start, int End) ValidColumns(int offset, int stride, int inWidth, int outWidth)
    {
        int start = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int end = Math.Min(outWidth, (inWidth - offset + stride - 1) / stride);
        return (Math.Min(start, outWidth), Math.Max(end, Math.Min(start, outWidth)));
    }

    /// <summary>Floats of unfolded columns per GEMM (~1 MiB: fits L2 beside the packed panels).</summary>
    private const int ColumnChunkFloats = 256 * 1024;

    /// <summary>Output rows unfolded per GEMM so a column block holds about <see cref="ColumnChunkFloats"/>.</summary>
    private static int RowsPerChunk(in Conv2dGeometry g) =>
        g.IsPointwise ? Math.Max(g.OutHeight, 1) : Math.Clamp(ColumnChunkFloats / Math.Max(g.PatchSize * g.OutWidth, 1), 1, Math.Max(g.OutHeight, 1));

    /// <summary>Images per partial weight gradient in <see cref="BackwardWeight"/> (fixed, so sums do not depend on threads).</summary>
    private const int ImagesPerWeightGroup = 4;

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
    /// Unfolds output rows [rowStart, rowStart + rowCount) of one group of one image:
    /// columns[(c * kH + kh) * kW + kw, (oh - rowStart) * outW + ow] =
    /// input[c, oh * strideH - padH + kh * dilationH, ow * strideW - padW + kw * dilationW] (0 outside).
    /// rowCount &lt; 0 means every output row. Overwrites columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2col(float* input, in Conv2dGeometry shape, float* columns, int rowStart = 0, int rowCount = -1)
    {
        // input [inChannelsPerGroup, inHeight, inWidth]; columns [patchSize, rowCount * outWidth]
        int inH = shape.InHeight, inW = shape.InWidth, outW = shape.OutWidth;
        if (rowCount < 0) rowCount = shape.OutHeight - rowStart;
        int rowEnd = rowStart + rowCount;
        int row = 0;
        for (int c = 0; c < shape.InChannelsPerGroup; c++)
            for (int kh = 0; kh < shape.KernelHeight; kh++)
                for (int kw = 0; kw < shape.KernelWidth; kw++, row++)
                {
                    float* plane = input + (long)c * inH * inW;
                    float* target = columns + (long)row * rowCount * outW;
                    int wOffset = kw * shape.DilationWidth - shape.PaddingWidth;
                    for (int oh = rowStart; oh < rowEnd; oh++)
                    {
                        int ih = oh * shape.StrideHeight - shape.PaddingHeight + kh * shape.DilationHeight;
                        float* line = target + (long)(oh - rowStart) * outW;
                        if ((uint)ih >= (uint)inH)
                        {
                            new Span<float>(line, outW).Clear();
                            continue;
                        }
                        float* sourceRow = plane + (long)ih * inW;
                        var (owStart, owEnd) = ValidColumns(wOffset, shape.StrideWidth, inW, outW);
                        new Span<float>(line, owStart).Clear();
                        if (shape.StrideWidth == 1)
                            new ReadOnlySpan<float>(sourceRow + owStart + wOffset, owEnd - owStart).CopyTo(new Span<float>(line + owStart, owEnd - owStart));
                        else
                            for (int ow = owStart, iw = owStart * shape.StrideWidth + wOffset; ow < owEnd; ow++, iw += shape.StrideWidth)
                                line[ow] = sourceRow[iw];
                        new Span<float>(line + owEnd, outW - owEnd).Clear();
                    }
                }
    }

    /// <summary>
    /// The adjoint of <see cref="Im2col"/> over output rows [rowStart, rowStart + rowCount) (all when
    /// rowCount &lt; 0): adds every column entry back to its input position. Accumulates into input.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2im(float* columns, in Conv2dGeometry shape, float* input, int rowStart = 0, int rowCount = -1)
    {
        // columns [patchSize, rowCount * outWidth]; input [inChannelsPerGroup, inHeight, inWidth]
        int inH = shape.InHeight, inW = shape.InWidth, outW = shape.OutWidth;
        if (rowCount < 0) rowCount = shape.OutHeight - rowStart;
        int rowEnd = rowStart + rowCount;
        int row = 0;
        for (int c = 0; c < shape.InChannelsPerGroup; c++)
            for (int kh = 0; kh < shape.KernelHeight; kh++)
                for (int kw = 0; kw < shape.KernelWidth; kw++, row++)
                {
                    float* plane = input + (long)c * inH * inW;
                    float* source = columns + (long)row * rowCount * outW;
                    int wOffset = kw * shape.DilationWidth - shape.PaddingWidth;
                    for (int oh = rowStart; oh < rowEnd; oh++)
                    {
                        int ih = oh * shape.StrideHeight - shape.PaddingHeight + kh * shape.DilationHeight;
                        if ((uint)ih >= (uint)inH)
                            continue;
                        float* targetRow = plane + (long)ih * inW;
                        float* line = source + (long)(oh - rowStart) * outW;
                        var (owStart, owEnd) = ValidColumns(wOffset, shape.StrideWidth, inW, outW);
                        if (shape.StrideWidth == 1)
                        {
                            var span = new Span<float>(targetRow + owStart + wOffset, owEnd - owStart);
                            TensorPrimitives.Add(span, new ReadOnlySpan<float>(line + owStart, owEnd - owStart), span);
                        }
                        else
                        {
                            for (int ow = owStart, iw = owStart * shape.StrideWidth + wOffset; ow < owEnd; ow++, iw += shape.StrideWidth)
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
            using var buffer = CpuMemoryPool.RentFloats(pointwise ? 0 : columnSize);
            {
                float* columns = buffer.Floats;
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
