using Tessera.Models.Data.World;

namespace Tessera.Models.Data.Images;

/// <summary>
/// An image with its dense and box targets, the unit augmentations transform together:
/// image [3, H, W] in [0, 1]; optional semantic and instance maps [H, W] (255 = ignore, for padding);
/// optional depth [H, W]; boxes (x1, y1, x2, y2 pixels) with labels.
/// </summary>
public sealed class ImageSample
{
    public const byte Ignore = 255;

    public required int Width { get; init; }
    public required int Height { get; init; }
    public required float[] Image { get; init; }
    public byte[]? Semantic { get; init; }
    public byte[]? Instance { get; init; }
    public float[]? Depth { get; init; }
    public Box[] Boxes { get; init; } = [];
    public int[] BoxLabels { get; init; } = [];
    /// <summary>Instance id (value in <see cref="Instance"/>) of each box, so boxes and masks stay paired when boxes are dropped.</summary>
    public int[] BoxIds { get; init; } = [];

    /// <summary>A copy of a scene's image and targets (the scene's buffers may be reused afterwards).</summary>
    public static ImageSample FromScene(Scene scene)
    {
        ArgumentNullException.ThrowIfNull(scene);
        var b = scene.Buffers;
        return new ImageSample
        {
            Width = scene.Size,
            Height = scene.Size,
            Image = (float[])b.Image.Clone(),
            Semantic = (byte[])b.Semantic.Clone(),
            Instance = (byte[])b.Instance.Clone(),
            Depth = (float[])b.Depth.Clone(),
            Boxes = scene.Boxes.ToArray(),
            BoxLabels = scene.Objects.Select(o => (int)o.Shape).ToArray(),
            BoxIds = Enumerable.Range(1, scene.Objects.Count).ToArray(),
        };
    }
}
