using Tessera.Autograd;

namespace Tessera.Models.Detection;

/// <summary>
/// torchvision's AnchorGenerator: for feature level l, one anchor per (size, aspect ratio) pair of
/// that level centred on every feature cell, in image coordinates [x1, y1, x2, y2]. Anchors are
/// ordered cell-major (row, then column) and, within a cell, ratio-major then size, which is the
/// order the RPN head's outputs are flattened in.
/// </summary>
public sealed class AnchorGenerator
{
    private readonly float[][] _sizes;
    private readonly float[][] _aspectRatios;
    private readonly float[][] _cellAnchors;

    /// <param name="sizes">Anchor sizes (square side in pixels) per feature level.</param>
    /// <param name="aspectRatios">Aspect ratios (height / width) per feature level.</param>
    public AnchorGenerator(IReadOnlyList<float[]> sizes, IReadOnlyList<float[]> aspectRatios)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(aspectRatios);
        if (sizes.Count == 0 || sizes.Count != aspectRatios.Count)
            throw new ArgumentException($"AnchorGenerator: expected one list of sizes and one of aspect ratios per feature level, found {sizes.Count} and {aspectRatios.Count}", nameof(aspectRatios));
        for (int level = 0; level < sizes.Count; level++)
        {
            if (sizes[level].Length == 0 || sizes[level].Any(s => !(s > 0f) || float.IsInfinity(s)))
                throw new ArgumentException($"AnchorGenerator: level {level} expected positive finite sizes, found [{string.Join(", ", sizes[level])}]", nameof(sizes));
            if (aspectRatios[level].Length == 0 || aspectRatios[level].Any(r => !(r > 0f) || float.IsInfinity(r)))
                throw new ArgumentException($"AnchorGenerator: level {level} expected positive finite aspect ratios, found [{string.Join(", ", aspectRatios[level])}]", nameof(aspectRatios));
        }
        _sizes = sizes.Select(s => s.ToArray()).ToArray();
        _aspectRatios = aspectRatios.Select(r => r.ToArray()).ToArray();
        _cellAnchors = _sizes.Select((s, level) => CellAnchors(s, _aspectRatios[level])).ToArray();
    }

    /// <summary>Number of feature levels the generator expects.</summary>
    public int LevelCount => _sizes.Length;

    /// <summary>Anchors per feature cell at <paramref name="level"/> (sizes × ratios).</summary>
    public int AnchorsPerLocation(int level) => _sizes[level].Length * _aspectRatios[level].Length;

    /// <summary>
    /// generate_anchors: zero-centred anchors [ratios·sizes, 4] flattened, rounded half-to-even as
    /// torch.round does. For ratio r, h = sqrt(r)·size and w = size / sqrt(r) (area size²).
    /// Computed in float32 like torchvision so the rounding lands on the same integers.
    /// </summary>
    public static float[] CellAnchors(float[] sizes, float[] aspectRatios)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(aspectRatios);
        var anchors = new float[sizes.Length * aspectRatios.Length * 4];
        int k = 0;
        foreach (float ratio in aspectRatios)
        {
            float heightRatio = MathF.Sqrt(ratio);
            float widthRatio = 1f / heightRatio;
            foreach (float size in sizes)
            {
                float width = widthRatio * size, height = heightRatio * size;
                anchors[k++] = MathF.Round(-width / 2f, MidpointRounding.ToEven);
                anchors[k++] = MathF.Round(-height / 2f, MidpointRounding.ToEven);
                anchors[k++] = MathF.Round(width / 2f, MidpointRounding.ToEven);
                anchors[k++] = MathF.Round(height / 2f, MidpointRounding.ToEven);
            }
        }
        return anchors;
    }

    /// <summary>
    /// Anchors [featureHeight·featureWidth·A, 4] of one level. The stride is the integer quotient
    /// image size / feature size per axis (torchvision), and cell (i, j) is shifted by (j·strideX, i·strideY).
    /// </summary>
    public float[] LevelAnchors(int level, int featureHeight, int featureWidth, int imageHeight, int imageWidth)
    {
        if ((uint)level >= (uint)LevelCount)
            throw new ArgumentOutOfRangeException(nameof(level), level, $"AnchorGenerator: level expected in [0, {LevelCount - 1}], found {level}");
        if (featureHeight < 1 || featureWidth < 1 || imageHeight < featureHeight || imageWidth < featureWidth)
            throw new ArgumentException($"AnchorGenerator: feature map {featureHeight}x{featureWidth} must be non-empty and no larger than the image {imageHeight}x{imageWidth}", nameof(featureHeight));
        int strideY = imageHeight / featureHeight, strideX = imageWidth / featureWidth;
        var cell = _cellAnchors[level];
        int perCell = cell.Length / 4;
        var anchors = new float[featureHeight * featureWidth * cell.Length];
        int k = 0;
        for (int i = 0; i < featureHeight; i++)
            for (int j = 0; j < featureWidth; j++)
            {
                float shiftX = j * strideX, shiftY = i * strideY;
                for (int a = 0; a < perCell; a++)
                {
                    anchors[k++] = cell[4 * a] + shiftX;
                    anchors[k++] = cell[4 * a + 1] + shiftY;
                    anchors[k++] = cell[4 * a + 2] + shiftX;
                    anchors[k++] = cell[4 * a + 3] + shiftY;
                }
            }
        return anchors;
    }

    /// <summary>Anchors [Σ H·W·A, 4] of every level, concatenated level by level (one image's anchors).</summary>
    public Tensor Anchors(IReadOnlyList<(int Height, int Width)> featureSizes, (int Height, int Width) imageSize)
    {
        ArgumentNullException.ThrowIfNull(featureSizes);
        if (featureSizes.Count != LevelCount)
            throw new ArgumentException($"AnchorGenerator: built for {LevelCount} feature level(s), given {featureSizes.Count} feature maps; pass one size/ratio list per map", nameof(featureSizes));
        var all = new List<float>();
        for (int level = 0; level < LevelCount; level++)
            all.AddRange(LevelAnchors(level, featureSizes[level].Height, featureSizes[level].Width, imageSize.Height, imageSize.Width));
        return Tensor.FromArray(all.ToArray(), all.Count / 4, 4);
    }
}
