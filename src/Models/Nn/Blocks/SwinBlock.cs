using System.Collections.Concurrent;
using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>
/// Swin's window attention (W-MSA) over windows of ws×ws tokens: qkv and proj Linears, and a
/// learned relative position bias: relative_position_bias_table [(2ws−1)², heads] (trunc-normal
/// 0.02) indexed by the relative_position_index buffer [ws², ws²] built exactly as the reference
/// implementation (row offset · (2ws−1) + column offset).
/// </summary>
public sealed class WindowAttention : Module
{
    public WindowAttention(int dim, int windowSize, int numHeads, bool qkvBias = true, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        if (dim % numHeads != 0)
            throw new ArgumentException($"WindowAttention: dim ({dim}) must be divisible by numHeads ({numHeads})", nameof(numHeads));
        generator ??= Generator.Default;
        Dim = dim;
        WindowSize = windowSize;
        NumHeads = numHeads;
        int span = 2 * windowSize - 1;
        RelativePositionBiasTable = RegisterParameter("relative_position_bias_table", InitRules.TruncatedNormal([span * span, numHeads], 0.02f, generator));
        RelativePositionIndex = RegisterBuffer("relative_position_index", BuildRelativePositionIndex(windowSize));
        Qkv = RegisterModule("qkv", new Linear(dim, 3 * dim, qkvBias, generator));
        Proj = RegisterModule("proj", new Linear(dim, dim, generator: generator));
    }

    public int Dim { get; }
    public int WindowSize { get; }
    public int NumHeads { get; }
    public Tensor RelativePositionBiasTable { get; }
    public Tensor RelativePositionIndex { get; }
    public Linear Qkv { get; }
    public Linear Proj { get; }

    /// <summary>
    /// Relative position index [ws², ws²] of token i (row ri, col ci) to token j:
    /// (ri − rj + ws − 1)·(2ws − 1) + (ci − cj + ws − 1).
    /// </summary>
    public static Tensor BuildRelativePositionIndex(int windowSize)
    {
        int n = windowSize * windowSize, span = 2 * windowSize - 1;
        var index = new long[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                int dr = i / windowSize - j / windowSize + windowSize - 1;
                int dc = i % windowSize - j % windowSize + windowSize - 1;
                index[i * n + j] = dr * span + dc;
            }
        return Tensor.FromArray(index, n, n);
    }

    /// <summary>The bias [heads, ws², ws²] gathered from the table.</summary>
    public Tensor RelativePositionBias()
    {
        int n = WindowSize * WindowSize;
        return RelativePositionBiasTable.IndexSelect(0, RelativePositionIndex.Reshape(-1)).Reshape(n, n, NumHeads).Permute(2, 0, 1);
    }

    /// <summary>
    /// windows [B·nW, ws², C] → same shape. <paramref name="mask"/> [nW, ws², ws²] is added to
    /// the scores of window w of every image (Swin's −100 for token pairs from different regions).
    /// </summary>
    public Tensor Forward(Tensor windows, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(windows);
        int n = WindowSize * WindowSize;
        if (windows.Rank != 3 || windows.Size(1) != n || windows.Size(2) != Dim)
            throw new TensorShapeException($"WindowAttention: expected windows [B·nW, {n}, {Dim}], found {Shapes.Format(windows.Shape)}", nameof(windows));
        int windowBatch = windows.Size(0), headDim = Dim / NumHeads;
        int windowCount = mask?.Size(0) ?? 1;
        if (windowBatch % windowCount != 0)
            throw new TensorShapeException($"WindowAttention: {windowBatch} windows are not a whole number of images of {windowCount} windows (mask {Shapes.Format(mask!.Shape)})", nameof(mask));
        // [B·nW, n, 3, heads, d] -> 3 × [B, nW, heads, n, d]
        var qkv = Qkv.Forward(windows).Reshape(windowBatch / windowCount, windowCount, n, 3, NumHeads, headDim).Permute(3, 0, 1, 4, 2, 5);
        var q = qkv.Select(0, 0);
        var k = qkv.Select(0, 1);
        var v = qkv.Select(0, 2);
        var bias = RelativePositionBias(); // [heads, n, n], broadcast over images and windows
        if (mask is not null) bias = bias + mask.Unsqueeze(1); // [nW, heads, n, n]
        var attended = Functional.ScaledDotProductAttention(q, k, v, bias); // [B, nW, heads, n, d]
        return Proj.Forward(attended.Permute(0, 1, 3, 2, 4).Reshape(windowBatch, n, Dim));
    }
}

/// <summary>
/// A Swin transformer block on [B, H, W, C]: x + DropPath(W-MSA(norm1(x))) with windows shifted
/// by <see cref="ShiftSize"/> (cyclic roll by −shift and Swin's region attention mask) for
/// SW-MSA, then x + DropPath(MLP(norm2(x))). Maps whose sides are not multiples of the window are
/// zero-padded after norm1 and cropped back (as Swin for detection).
/// </summary>
public sealed class SwinBlock : Layer
{
    // Masks per padded map size, shared by every forward (and every virtual device's thread).
    [Unregistered] // attention masks cached per input size: constants, not state
    private readonly ConcurrentDictionary<(int Height, int Width), Tensor> _maskCache = new();

    public SwinBlock(int dim, int numHeads, int windowSize = 7, int shiftSize = 0, float mlpRatio = 4f, float dropout = 0f, float dropPath = 0f, Generator? generator = null)
    {
        if (shiftSize < 0 || shiftSize >= windowSize)
            throw new ArgumentOutOfRangeException(nameof(shiftSize), shiftSize, $"SwinBlock: shiftSize must be in [0, windowSize = {windowSize})");
        Dim = dim;
        WindowSize = windowSize;
        ShiftSize = shiftSize;
        Norm1 = RegisterModule("norm1", new LayerNorm(dim));
        Attn = RegisterModule("attn", new WindowAttention(dim, windowSize, numHeads, generator: generator));
        DropPath = RegisterModule("drop_path", new DropPath(dropPath, generator));
        Norm2 = RegisterModule("norm2", new LayerNorm(dim));
        Mlp = RegisterModule("mlp", new Mlp(dim, (int)(dim * mlpRatio), dim, dropout, generator));
    }

    public int Dim { get; }
    public int WindowSize { get; }
    public int ShiftSize { get; }
    public LayerNorm Norm1 { get; }
    public WindowAttention Attn { get; }
    public DropPath DropPath { get; }
    public LayerNorm Norm2 { get; }
    public Mlp Mlp { get; }

    /// <summary>[B, H, W, C] → [B, H, W, C].</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Size(3) != Dim)
            throw new TensorShapeException($"SwinBlock: expected [B, H, W, {Dim}] (channels last), found {Shapes.Format(input.Shape)}", nameof(input));
        int batchSize = input.Size(0), height = input.Size(1), width = input.Size(2), ws = WindowSize;
        int padBottom = (ws - height % ws) % ws, padRight = (ws - width % ws) % ws;
        var x = Norm1.Forward(input);
        if (padBottom > 0 || padRight > 0) x = Functional.Pad(x, [0, 0, 0, padRight, 0, padBottom]);
        int paddedHeight = height + padBottom, paddedWidth = width + padRight;
        if (ShiftSize > 0) x = x.Roll([-ShiftSize, -ShiftSize], [1, 2]);
        var windows = PartitionWindows(x, ws);
        var attended = Attn.Forward(windows, ShiftSize > 0 ? ShiftMask(paddedHeight, paddedWidth).To(windows.Device) : null);
        x = ReverseWindows(attended, ws, batchSize, paddedHeight, paddedWidth);
        if (ShiftSize > 0) x = x.Roll([ShiftSize, ShiftSize], [1, 2]);
        if (padBottom > 0 || padRight > 0) x = x.Narrow(1, 0, height).Narrow(2, 0, width);
        x = input + DropPath.Forward(x);
        return x + DropPath.Forward(Mlp.Forward(Norm2.Forward(x)));
    }

    /// <summary>[B, H, W, C] → [B·(H/ws)·(W/ws), ws², C], windows in row-major order per image.</summary>
    public static Tensor PartitionWindows(Tensor x, int windowSize)
    {
        int b = x.Size(0), h = x.Size(1), w = x.Size(2), c = x.Size(3);
        return x.Reshape(b, h / windowSize, windowSize, w / windowSize, windowSize, c).Permute(0, 1, 3, 2, 4, 5)
            .Reshape(b * (h / windowSize) * (w / windowSize), windowSize * windowSize, c);
    }

    /// <summary>The inverse of <see cref="PartitionWindows"/>.</summary>
    public static Tensor ReverseWindows(Tensor windows, int windowSize, int batchSize, int height, int width)
    {
        int c = windows.Size(-1);
        return windows.Reshape(batchSize, height / windowSize, width / windowSize, windowSize, windowSize, c).Permute(0, 1, 3, 2, 4, 5)
            .Reshape(batchSize, height, width, c);
    }

    /// <summary>
    /// Swin's SW-MSA mask [nW, ws², ws²] for a (padded) map: the rolled map splits into 3×3
    /// regions (cut at −ws and −shift along each axis); token pairs from different regions get −100.
    /// Cached per size outside any <see cref="TensorScope"/>, so a step's scope cannot dispose it.
    /// </summary>
    public Tensor ShiftMask(int height, int width) => _maskCache.GetOrAdd((height, width), size =>
    {
        using (TensorScope.Unscoped())
            return BuildShiftMask(size.Height, size.Width);
    });

    private Tensor BuildShiftMask(int height, int width)
    {
        int ws = WindowSize, n = ws * ws;
        var region = new int[height * width];
        for (int r = 0; r < height; r++)
            for (int c = 0; c < width; c++)
                region[r * width + c] = 3 * Band(r, height) + Band(c, width);
        int windowsDown = height / ws, windowsAcross = width / ws;
        var mask = new float[windowsDown * windowsAcross * n * n];
        for (int wr = 0; wr < windowsDown; wr++)
            for (int wc = 0; wc < windowsAcross; wc++)
            {
                int offset = (wr * windowsAcross + wc) * n * n;
                for (int i = 0; i < n; i++)
                {
                    int ri = region[(wr * ws + i / ws) * width + wc * ws + i % ws];
                    for (int j = 0; j < n; j++)
                    {
                        int rj = region[(wr * ws + j / ws) * width + wc * ws + j % ws];
                        mask[offset + i * n + j] = ri == rj ? 0f : -100f;
                    }
                }
            }
        return Tensor.FromArray(mask, windowsDown * windowsAcross, n, n);
    }

    // Slices (0, −ws), (−ws, −shift), (−shift, end) of Swin's mask construction.
    private int Band(int position, int size) => position < size - WindowSize ? 0 : position < size - ShiftSize ? 1 : 2;
}

/// <summary>
/// Swin patch merging: concatenates each 2×2 neighbourhood (order x[0::2,0::2], x[1::2,0::2],
/// x[0::2,1::2], x[1::2,1::2]) to 4C, LayerNorm, then a bias-free Linear to 2C; [B, H, W, C] →
/// [B, ⌈H/2⌉, ⌈W/2⌉, 2C] (odd sides are zero-padded).
/// </summary>
public sealed class PatchMerging : Layer
{
    public PatchMerging(int dim, Generator? generator = null)
    {
        Dim = dim;
        Reduction = RegisterModule("reduction", new Linear(4 * dim, 2 * dim, bias: false, generator));
        Norm = RegisterModule("norm", new LayerNorm(4 * dim));
    }

    public int Dim { get; }
    public Linear Reduction { get; }
    public LayerNorm Norm { get; }

    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Size(3) != Dim)
            throw new TensorShapeException($"PatchMerging: expected [B, H, W, {Dim}] (channels last), found {Shapes.Format(input.Shape)}", nameof(input));
        var x = input;
        if (x.Size(1) % 2 != 0 || x.Size(2) % 2 != 0)
            x = Functional.Pad(x, [0, 0, 0, x.Size(2) % 2, 0, x.Size(1) % 2]);
        int h = x.Size(1), w = x.Size(2);
        var x0 = x.Slice(1, 0, h, 2).Slice(2, 0, w, 2);
        var x1 = x.Slice(1, 1, h, 2).Slice(2, 0, w, 2);
        var x2 = x.Slice(1, 0, h, 2).Slice(2, 1, w, 2);
        var x3 = x.Slice(1, 1, h, 2).Slice(2, 1, w, 2);
        return Reduction.Forward(Norm.Forward(Functional.Cat([x0, x1, x2, x3], -1)));
    }
}
