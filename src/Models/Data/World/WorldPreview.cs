using Tessera.Models.Data.Images;

namespace Tessera.Models.Data.World;

/// <summary>
/// A contact sheet of a source: each cell shows a scene (scaled up), its instance masks as
/// translucent colours, its boxes, and under it the label of the source's task and the caption.
/// Depth sources also show the depth map beside the image.
/// </summary>
public static class WorldPreview
{
    private static readonly (byte, byte, byte)[] s_instanceColours =
    [
        (255, 64, 64), (64, 200, 255), (255, 220, 40), (80, 255, 120), (255, 110, 230), (255, 150, 40), (150, 120, 255), (40, 255, 230),
    ];

    public static Canvas Render(WorldSource source, int count, int size, ulong seed, string split = "train")
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        int scale = Math.Max(1, 128 / size);
        int imageSide = size * scale;
        bool depthPanel = source.Task == WorldTask.Depth;
        int cellWidth = imageSide * (depthPanel ? 2 : 1) + 6;
        int textLines = 4;
        int cellHeight = imageSide + 6 + textLines * Canvas.LineHeight;
        int columns = Math.Min(count, depthPanel ? 4 : 8), rows = (count + columns - 1) / columns;
        var canvas = new Canvas(columns * cellWidth + 6, rows * cellHeight + 6 + Canvas.LineHeight * 2, (24, 24, 28));
        canvas.DrawText($"{source.Name} ({source.Task.ToString().ToLowerInvariant()}, like {source.Like}) seed {seed}", 6, 4, (230, 230, 230));
        int originY = 4 + Canvas.LineHeight * 2;
        var buffers = new SceneBuffers(size);
        for (int n = 0; n < count; n++)
        {
            var scene = WorldGenerator.Generate(source, split, n, seed, size, buffers);
            int left = 6 + (n % columns) * cellWidth, top = originY + (n / columns) * cellHeight;
            canvas.DrawImage(buffers.Image, size, size, left, top, scale);
            if (source.Task == WorldTask.Segmentation) DrawSemantic(canvas, buffers, left, top, scale);
            else DrawInstances(canvas, buffers, left, top, scale);
            for (int k = 0; k < scene.Boxes.Count; k++)
            {
                var box = scene.Boxes[k];
                canvas.DrawRectangle(left + (int)(box.X1 * scale), top + (int)(box.Y1 * scale),
                                     left + (int)(box.X2 * scale) - 1, top + (int)(box.Y2 * scale) - 1, s_instanceColours[k % s_instanceColours.Length]);
            }
            if (depthPanel) DrawDepth(canvas, buffers, left + imageSide, top, scale);
            int maxChars = (cellWidth - 6) / Canvas.CharWidth;
            var lines = new List<string> { Label(source, scene) };
            lines.AddRange(Canvas.Wrap(scene.Caption, maxChars));
            for (int l = 0; l < Math.Min(textLines, lines.Count); l++)
                canvas.DrawText(lines[l].Length > maxChars ? lines[l][..maxChars] : lines[l], left, top + imageSide + 3 + l * Canvas.LineHeight,
                                l == 0 ? ((byte)255, (byte)230, (byte)120) : ((byte)210, (byte)210, (byte)210));
        }
        return canvas;
    }

    /// <summary>What the source's task says about the scene, in a few words.</summary>
    public static string Label(WorldSource source, Scene scene)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(scene);
        return source.Task switch
        {
            WorldTask.Classification => source.ClassNames()[source.ClassOf(scene.Layout)],
            WorldTask.MultiLabel => "tags: " + string.Join(",", Enumerable.Range(0, ShapeSdf.Count).Where(c => scene.Tags[c]).Select(c => ShapeSdf.Names[c])),
            WorldTask.Detection => $"{scene.Boxes.Count} boxes",
            WorldTask.Segmentation => "stuff: " + string.Join(",", StuffPresent(scene).Select(s => StuffClasses.Names[s])),
            WorldTask.Depth => $"depth {scene.Buffers.Depth.Min():F1}-{scene.Buffers.Depth.Max():F1}",
            _ => scene.Layout.SceneType.Name,
        };
    }

    private static IEnumerable<int> StuffPresent(Scene scene)
    {
        var seen = new SortedSet<int>();
        foreach (byte s in scene.Buffers.Semantic)
            if (s >= ShapeSdf.Count) seen.Add(s - ShapeSdf.Count);
        return seen;
    }

    /// <summary>Instance masks: a light tint (so the object's own colour stays readable) and a solid outline.</summary>
    private static void DrawInstances(Canvas canvas, SceneBuffers buffers, int left, int top, int scale)
    {
        int size = buffers.Size, imageSide = size * scale;
        for (int y = 0; y < imageSide; y++)
            for (int x = 0; x < imageSide; x++)
            {
                int sx = x / scale, sy = y / scale, id = buffers.Instance[sy * size + sx];
                if (id == 0) continue;
                var colour = s_instanceColours[(id - 1) % s_instanceColours.Length];
                bool edge = (x % scale == 0 && (sx == 0 || buffers.Instance[sy * size + sx - 1] != id))
                         || (x % scale == scale - 1 && (sx == size - 1 || buffers.Instance[sy * size + sx + 1] != id))
                         || (y % scale == 0 && (sy == 0 || buffers.Instance[(sy - 1) * size + sx] != id))
                         || (y % scale == scale - 1 && (sy == size - 1 || buffers.Instance[(sy + 1) * size + sx] != id));
                canvas.Blend(left + x, top + y, colour, edge ? 0.9f : 0.2f);
            }
    }

    /// <summary>Segmentation sources: every pixel filled with its semantic class colour (opacity 0.55; ignore stays clear), so the masks themselves are what one sees.</summary>
    private static void DrawSemantic(Canvas canvas, SceneBuffers buffers, int left, int top, int scale)
    {
        int size = buffers.Size;
        for (int y = 0; y < size * scale; y++)
            for (int x = 0; x < size * scale; x++)
            {
                byte c = buffers.Semantic[(y / scale) * size + x / scale];
                if (c == ImageSample.Ignore) continue;
                var colour = Annotator.ClassColour(c);
                canvas.Blend(left + x, top + y, (colour.Red, colour.Green, colour.Blue), 0.55f);
            }
    }

    private static void DrawDepth(Canvas canvas, SceneBuffers buffers, int left, int top, int scale)
    {
        int size = buffers.Size;
        for (int y = 0; y < size * scale; y++)
            for (int x = 0; x < size * scale; x++)
            {
                float d = buffers.Depth[(y / scale) * size + x / scale];
                byte v = (byte)Math.Clamp((int)(255f * (1f - d / SceneRenderer.FarDepth)), 0, 255); // near = bright
                canvas.Set(left + x, top + y, (v, v, v));
            }
    }
}
