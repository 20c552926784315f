using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Objectives;

/// <summary>
/// Which patches of a [gridHeight × gridWidth] patch grid a masked-image-modelling step hides
/// (true = masked, row-major). Two generators: BEiT's block-wise masking (EVA: rectangles of
/// random area and aspect until the ratio is reached) and SimMIM's aligned masking (HVP-MTL:
/// random square units of blockPatches × blockPatches patches).
/// </summary>
public static class PatchMasking
{
    /// <summary>
    /// BEiT's block-wise masking (its MaskingGenerator): repeatedly draw a rectangle of area in
    /// [minBlockPatches, remaining] and aspect ratio log-uniform in [0.3, 1/0.3], place it at a
    /// random position and mask its unmasked patches, until round(ratio·N) patches are masked
    /// (or 10 draws in a row add nothing, which leaves it slightly short, as BEiT does).
    /// BEiT uses minBlockPatches = 16 on a 14×14 grid; on the small grids of a reduced run 2-4 keeps
    /// blocks several patches wide without making them the whole image.
    /// </summary>
    public static bool[] Blockwise(int gridHeight, int gridWidth, float ratio, Generator generator, int minBlockPatches = 4,
        float minAspect = 0.3f)
    {
        CheckGrid(gridHeight, gridWidth);
        CheckRatio(ratio, nameof(ratio));
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfLessThan(minBlockPatches, 1);
        if (!(minAspect is > 0f and <= 1f))
            throw new ArgumentOutOfRangeException(nameof(minAspect), minAspect, $"PatchMasking: 'minAspect' expected in (0, 1], found {minAspect}");
        var mask = new bool[gridHeight * gridWidth];
        int target = (int)MathF.Round(ratio * mask.Length), count = 0;
        Span<float> draws = stackalloc float[4];
        float logMin = MathF.Log(minAspect), logMax = MathF.Log(1f / minAspect);
        while (count < target)
        {
            int remaining = target - count, added = 0;
            for (int attempt = 0; attempt < 10 && added == 0; attempt++)
            {
                generator.Uniform(draws);
                float area = Math.Min(minBlockPatches, remaining) + draws[0] * (remaining - Math.Min(minBlockPatches, remaining));
                float aspect = MathF.Exp(logMin + draws[1] * (logMax - logMin));
                int height = (int)MathF.Round(MathF.Sqrt(area * aspect)), width = (int)MathF.Round(MathF.Sqrt(area / aspect));
                if (height < 1 || width < 1 || height > gridHeight || width > gridWidth) continue;
                int top = (int)(draws[2] * (gridHeight - height + 1)), left = (int)(draws[3] * (gridWidth - width + 1));
                int alreadyMasked = 0;
                for (int y = top; y < top + height; y++)
                    for (int x = left; x < left + width; x++)
                        if (mask[y * gridWidth + x]) alreadyMasked++;
                int fresh = height * width - alreadyMasked;
                if (fresh <= 0 || fresh > remaining) continue;
                for (int y = top; y < top + height; y++)
                    for (int x = left; x < left + width; x++)
                        mask[y * gridWidth + x] = true;
                added = fresh;
            }
            if (added == 0) break;
            count += added;
        }
        return mask;
    }

    /// <summary>
    /// SimMIM's masking: the grid is cut into units of blockPatches × blockPatches patches (the
    /// paper masks 32×32-pixel units over 4×4 or 16×16 patches) and round(ratio · units) units,
    /// chosen uniformly without replacement, are masked whole.
    /// </summary>
    public static bool[] Aligned(int gridHeight, int gridWidth, float ratio, int blockPatches, Generator generator)
    {
        CheckGrid(gridHeight, gridWidth);
        CheckRatio(ratio, nameof(ratio));
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockPatches, 1);
        if (gridHeight % blockPatches != 0 || gridWidth % blockPatches != 0)
            throw new ArgumentException($"PatchMasking: the patch grid {gridHeight}x{gridWidth} must be a whole number of mask units; expected blockPatches to divide both sides, found {blockPatches} (choose a mask block that is a multiple of the patch size and divides the image)", nameof(blockPatches));
        int unitRows = gridHeight / blockPatches, unitColumns = gridWidth / blockPatches, units = unitRows * unitColumns;
        int masked = (int)MathF.Round(ratio * units);
        // Partial Fisher-Yates: the first `masked` entries of a uniform permutation.
        var order = Enumerable.Range(0, units).ToArray();
        for (int i = 0; i < masked; i++)
        {
            int j = i + generator.NextInt(units - i);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var mask = new bool[gridHeight * gridWidth];
        for (int i = 0; i < masked; i++)
        {
            int unitRow = order[i] / unitColumns, unitColumn = order[i] % unitColumns;
            for (int y = unitRow * blockPatches; y < (unitRow + 1) * blockPatches; y++)
                for (int x = unitColumn * blockPatches; x < (unitColumn + 1) * blockPatches; x++)
                    mask[y * gridWidth + x] = true;
        }
        return mask;
    }

    /// <summary>Masks of one grid size as [B, N] float32 (1 = masked).</summary>
    public static Tensor ToTensor(IReadOnlyList<bool[]> masks)
    {
        ArgumentNullException.ThrowIfNull(masks);
        if (masks.Count == 0)
            throw new ArgumentException("PatchMasking.ToTensor: expected at least one mask, found none", nameof(masks));
        int patches = masks[0].Length;
        var data = new float[masks.Count * patches];
        for (int b = 0; b < masks.Count; b++)
        {
            if (masks[b].Length != patches)
                throw new ArgumentException($"PatchMasking.ToTensor: expected every mask to have {patches} patches, found {masks[b].Length} at index {b}", nameof(masks));
            for (int i = 0; i < patches; i++) data[b * patches + i] = masks[b][i] ? 1f : 0f;
        }
        return Tensor.FromArray(data, masks.Count, patches);
    }

    private static void CheckGrid(int gridHeight, int gridWidth)
    {
        if (gridHeight < 1 || gridWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(gridHeight), $"PatchMasking: expected a patch grid of at least 1x1, found {gridHeight}x{gridWidth}");
    }

    private static void CheckRatio(float ratio, string name)
    {
        if (!(ratio is > 0f and < 1f))
            throw new ArgumentOutOfRangeException(name, ratio, $"PatchMasking: the mask ratio expected a value in (0, 1), found {ratio}");
    }
}
