using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

public class WorldAnnotationTests
{
    public static TheoryData<string> AllSources()
    {
        var data = new TheoryData<string>();
        foreach (var source in WorldSources.All) data.Add(source.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllSources))]
    public void AnnotationsAgreeWithEachOther(string name)
    {
        var source = WorldSources.Get(name);
        for (int index = 0; index < 12; index++)
        {
            var scene = WorldGenerator.Generate(source, "train", index, 11);
            var b = scene.Buffers;
            int size = scene.Size;
            Assert.Equal(scene.Objects.Count, scene.Boxes.Count);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int p = y * size + x, id = b.Instance[p];
                    if (id > 0)
                    {
                        var obj = scene.Objects[id - 1];
                        var box = scene.Boxes[id - 1];
                        Assert.True(x >= box.X1 && x + 1 <= box.X2 && y >= box.Y1 && y + 1 <= box.Y2, $"{name}#{index}: pixel ({x},{y}) of object {id} outside its box {box}");
                        Assert.Equal((int)obj.Shape, b.Semantic[p]);
                        Assert.Equal(obj.Depth, b.Depth[p]);
                    }
                    else
                    {
                        Assert.Equal(ShapeSdf.Count + scene.StuffAt(x, y), b.Semantic[p]);
                        Assert.InRange(b.Depth[p], 2f, SceneRenderer.FarDepth);
                    }
                    // Occlusion follows depth: the visible object is the nearest of those whose shape covers the pixel.
                    // DistanceAt evaluates exactly what the rasteriser does, so no edge tolerance is needed.
                    SceneObject? nearest = null;
                    foreach (var candidate in scene.Layout.Objects)
                        if (candidate.Covers(x, y) && (nearest is null || candidate.Depth < nearest.Depth)) nearest = candidate;
                    if (nearest is null) Assert.Equal(0, id);
                    else
                    {
                        Assert.NotEqual(0, id);
                        Assert.Same(nearest, scene.Objects[id - 1]);
                    }
                }
            // Boxes are tight: each edge row/column of a box holds a pixel of its object.
            for (int k = 0; k < scene.Boxes.Count; k++)
            {
                var box = scene.Boxes[k];
                int count = 0;
                for (int y = (int)box.Y1; y < (int)box.Y2; y++)
                    for (int x = (int)box.X1; x < (int)box.X2; x++)
                        if (b.Instance[y * size + x] == k + 1) count++;
                Assert.Equal(scene.PixelCounts[k], count);
                Assert.True(count > 0);
            }
            Assert.All(b.Image, v => Assert.InRange(v, 0f, 1f));
        }
    }

    [Fact]
    public void DepthBackgroundIsBehindObjects()
    {
        var source = WorldSources.Get("depth");
        for (int i = 0; i < 10; i++)
        {
            var scene = WorldGenerator.Generate(source, "test", i, 0);
            float nearestBackground = float.MaxValue, farthestObject = 0f;
            for (int p = 0; p < scene.Buffers.Depth.Length; p++)
            {
                if (scene.Buffers.Instance[p] == 0) nearestBackground = Math.Min(nearestBackground, scene.Buffers.Depth[p]);
                else farthestObject = Math.Max(farthestObject, scene.Buffers.Depth[p]);
            }
            Assert.InRange(farthestObject, 0f, 8.5f);
            Assert.InRange(nearestBackground, 2f, SceneRenderer.FarDepth);
            Assert.True(scene.Objects.Select(o => o.Depth).Distinct().Count() == scene.Objects.Count, "depth layers are distinct");
        }
    }

    [Fact]
    public void MainObjectIsNearestAndCaptionNamesIt()
    {
        var source = WorldSources.Get("captions");
        for (int i = 0; i < 20; i++)
        {
            var scene = WorldGenerator.Generate(source, "train", i, 3);
            Assert.All(scene.Layout.Objects, o => Assert.True(scene.Main.Depth <= o.Depth));
            Assert.Contains(ShapeSdf.Name(scene.Main.Shape), scene.Caption, StringComparison.Ordinal);
            Assert.Contains(Palettes.Names[scene.Main.ColourIndex], scene.Caption, StringComparison.Ordinal);
            Assert.StartsWith("a ", scene.Caption, StringComparison.Ordinal);
            var tokens = new long[24];
            CaptionVocabulary.Encode(scene.Caption, tokens);
            Assert.Equal(CaptionVocabulary.Begin, tokens[0]);
            Assert.DoesNotContain((long)CaptionVocabulary.Unknown, tokens);
            Assert.Equal(scene.Caption, CaptionVocabulary.Decode(tokens));
        }
    }

    [Fact]
    public void TagsMatchVisibleShapesWithoutNoiseAndDifferWithIt()
    {
        var clean = WorldSources.Get("objects-det");
        for (int i = 0; i < 10; i++)
        {
            var scene = WorldGenerator.Generate(clean, "train", i, 0);
            for (int c = 0; c < ShapeSdf.Count; c++)
                Assert.Equal(scene.Objects.Any(o => (int)o.Shape == c), scene.Tags[c]);
        }
        var noisy = WorldSources.Get("tags");
        int flipped = 0, total = 0;
        for (int i = 0; i < 200; i++)
        {
            var scene = WorldGenerator.Generate(noisy, "train", i, 0);
            for (int c = 0; c < ShapeSdf.Count; c++)
            {
                bool present = scene.Objects.Any(o => (int)o.Shape == c);
                if (present != scene.Tags[c]) flipped++;
                if (present) total++;
            }
        }
        // 15% drop rate on present tags plus matching additions: about 30% of the present count.
        double rate = flipped / (double)total;
        Assert.InRange(rate, 0.15, 0.45);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(97)]
    [InlineData(256)]
    public void AnySizeFrom32To256Renders(int size)
    {
        var scene = WorldGenerator.Generate(WorldSources.Get("objects-det"), "val", 1, 0, size);
        Assert.Equal(3 * size * size, scene.Buffers.Image.Length);
        Assert.NotEmpty(scene.Objects);
        Assert.Throws<ArgumentOutOfRangeException>(() => WorldGenerator.Generate(WorldSources.Get("objects-det"), "val", 1, 0, 16));
    }
}
