namespace Tessera.Models.Data.World;

/// <summary>
/// A rendered scene with every annotation, so any task can be asked of any source: main object,
/// present categories, boxes, instance masks, semantic map, depth map, scene type and caption.
/// </summary>
public sealed class Scene
{
    internal Scene(SceneLayout layout, SceneBuffers buffers, SceneObject[] objects, Box[] boxes, int[] pixelCounts, string caption, bool[] tags)
    {
        Layout = layout;
        Buffers = buffers;
        Objects = objects;
        Boxes = boxes;
        PixelCounts = pixelCounts;
        Caption = caption;
        Tags = tags;
    }

    public SceneLayout Layout { get; }

    /// <summary>Image [3, S, S] in [0, 1], instance, semantic and depth maps [S, S].</summary>
    public SceneBuffers Buffers { get; }

    public int Size => Layout.Size;

    /// <summary>Visible objects in annotation order; instance id k + 1 in <see cref="SceneBuffers.Instance"/> is object k.</summary>
    public IReadOnlyList<SceneObject> Objects { get; }

    /// <summary>Tight boxes of the visible pixels, one per object.</summary>
    public IReadOnlyList<Box> Boxes { get; }

    public IReadOnlyList<int> PixelCounts { get; }

    /// <summary>The main object: nearest and (usually) largest; what classification labels refer to.</summary>
    public SceneObject Main => Layout.Objects[0];

    public int SceneTypeIndex => Layout.SceneTypeIndex;

    public string Caption { get; }

    /// <summary>Multi-label set over shapes (after the source's tag noise).</summary>
    public IReadOnlyList<bool> Tags { get; }

    /// <summary>The clean multi-label set: the shapes of the visible objects, before any tag noise (for evaluating noisy-label training).</summary>
    public IReadOnlyList<bool> CleanTags => CleanTagsOf(Objects.Select(o => (int)o.Shape));

    /// <summary>The tag set [ShapeSdf.Count] of a list of shape classes.</summary>
    public static bool[] CleanTagsOf(IEnumerable<int> shapes)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        var tags = new bool[ShapeSdf.Count];
        foreach (int shape in shapes) tags[shape] = true;
        return tags;
    }

    /// <summary>The stuff class of the background at a pixel (ignoring objects).</summary>
    public int StuffAt(int x, int y) =>
        Layout.Family == BackgroundFamily.SkyGround && y + 0.5f >= Layout.Horizon ? StuffClasses.Ground : StuffClasses.Of(Layout.Family);
}
