using Tessera.Engine;
using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

public class WorldSourceTests
{
    [Fact]
    public void TheSpecTableAndSuitesAreRegistered()
    {
        string[] expected = ["shapes-cls", "scenes-cls", "fine-cls", "objects-det", "dense-det", "parts-seg", "stuff-seg", "depth", "captions", "tags"];
        Assert.Equal(expected, WorldSources.Sources.Select(s => s.Name));
        Assert.True(WorldSources.Suites.Count(s => s.Task == WorldTask.Classification) >= 3);
        foreach (var task in new[] { WorldTask.Detection, WorldTask.Segmentation, WorldTask.Depth })
            Assert.Contains(WorldSources.Suites, s => s.Task == task);
        Assert.True(Enum.GetValues<ShapeKind>().Length >= 10);
    }

    [Theory]
    [InlineData("shapes-cls", 12)]
    [InlineData("scenes-cls", 8)]
    [InlineData("fine-cls", 64)]
    [InlineData("objects-det", 12)]
    [InlineData("dense-det", 12)]
    [InlineData("parts-seg", 21)]
    [InlineData("stuff-seg", 10)]
    [InlineData("depth", 0)]
    [InlineData("tags", 12)]
    [InlineData("down-textures", 4)]
    [InlineData("down-colours", 12)]
    public void LabelSpacesHaveTheClaimedSize(string name, int classes) => Assert.Equal(classes, WorldSources.Get(name).LabelNames.Count);

    [Fact]
    public void EverySourceGeneratesLabelsInsideItsLabelSpace()
    {
        foreach (var source in WorldSources.All)
        {
            var seen = new HashSet<int>();
            for (int i = 0; i < 40; i++)
            {
                var scene = WorldGenerator.Generate(source, "train", i, 1);
                int label = source.ClassOf(scene.Layout);
                Assert.InRange(label, 0, source.ClassNames().Count - 1);
                seen.Add(label);
                foreach (byte s in scene.Buffers.Semantic) Assert.InRange(source.SegmentationClass(s), 0, source.SegmentationClassCount - 1);
                Assert.InRange(scene.Objects.Count, 0, source.Domain.MaxObjects);
            }
            Assert.True(seen.Count > 1, $"{source.Name}: 40 scenes all had the same class");
        }
    }

    [Fact]
    public void DomainsDiffer()
    {
        // Held-out suites use palettes and background families no pre-training source uses.
        var training = WorldSources.Sources.SelectMany(s => s.Domain.Palettes).ToHashSet();
        Assert.DoesNotContain(PaletteKind.Neon, training);
        var trainingFamilies = WorldSources.Sources.SelectMany(s => s.Domain.SceneTypes).Select(t => SceneTypes.All[t].Family).ToHashSet();
        Assert.DoesNotContain(BackgroundFamily.Checker, trainingFamilies);
        Assert.DoesNotContain(BackgroundFamily.Radial, trainingFamilies);
        // Pre-training sources never draw held-out shape/texture pairs; down-det's main objects always do.
        for (int i = 0; i < 50; i++)
        {
            foreach (var o in WorldGenerator.Generate(WorldSources.Get("captions"), "train", i, 0).Layout.Objects)
                Assert.False(Textures.IsHeldOutCombination(o.Shape, o.Texture));
            var main = WorldGenerator.Generate(WorldSources.Get("down-det"), "train", i, 0).Main;
            Assert.True(Textures.IsHeldOutCombination(main.Shape, main.Texture));
        }
    }

    [Fact]
    public void TenPercentSplitIsPerClassAndInsideTrain()
    {
        var source = WorldSources.Get("down-shapes");
        int train = WorldGenerator.SplitLength(source, "train", 0)!.Value;
        var subset = WorldGenerator.TenPercentIndices(source, 0);
        Assert.InRange(subset.Length, train / 10, train / 10 + source.ClassNames().Count);
        Assert.Equal(subset.Length, subset.Distinct().Count());
        Assert.All(subset, i => Assert.InRange(i, 0, train - 1));
        var perClassAll = new int[source.ClassNames().Count];
        var perClassSubset = new int[perClassAll.Length];
        for (int i = 0; i < train; i++) perClassAll[source.ClassOf(WorldGenerator.SampleLayout(source, "train", i, 0))]++;
        foreach (int i in subset) perClassSubset[source.ClassOf(WorldGenerator.SampleLayout(source, "train", i, 0))]++;
        for (int c = 0; c < perClassAll.Length; c++)
            Assert.Equal((int)Math.Ceiling(perClassAll[c] * 0.1), perClassSubset[c]);
        // train10 scene k is train scene subset[k], pixel for pixel.
        Assert.Equal(WorldGenerator.Generate(source, "train", subset[3], 0).Buffers.Image, WorldGenerator.Generate(source, "train10", 3, 0).Buffers.Image);
        Assert.NotEqual(subset, WorldGenerator.TenPercentIndices(source, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => WorldGenerator.Generate(source, "test", 600, 0));
        Assert.Throws<ArgumentException>(() => WorldGenerator.Generate(source, "val", 0, 0));
    }

    [Fact]
    public void UnknownSourceListsValidNames()
    {
        var error = Assert.Throws<ArgumentException>(() => WorldSources.Get("imagenet"));
        Assert.Contains("shapes-cls", error.Message, StringComparison.Ordinal);
        Assert.Contains("down-det", error.Message, StringComparison.Ordinal);
        Assert.Contains("mnist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryCaptionFitsTheDefaultCaptionLength()
    {
        // A caption cut off by the batch's token length has no End token: text towers refuse it.
        var source = WorldSources.Get("captions");
        var indices = Enumerable.Range(0, 1500).Select(i => (long)i).ToArray();
        using var batch = WorldBatch.Create(source, "train", indices, 0, size: 32);
        Assert.Equal(CaptionVocabulary.MaxLength, batch.CaptionTokens.Size(1));
        int longest = batch.Captions.Max(c => c.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length) + 2;
        Assert.True(longest <= CaptionVocabulary.MaxLength, $"a caption needs {longest} tokens, more than {CaptionVocabulary.MaxLength}");
        Assert.True(longest > 16, $"the sample should include a long caption (longest {longest} tokens); raise the sample if the grammar changed");
    }

    [Fact]
    public void BatchHasEveryTaskTarget()
    {
        var source = WorldSources.Get("objects-det");
        using var batch = WorldBatch.Create(source, "train", [0, 1, 2, 3], 0, size: 48, captionLength: 12);
        Assert.Equal([4, 3, 48, 48], batch.Images.Shape.ToArray());
        Assert.Equal(DType.Float32, batch.Images.DType);
        Assert.Equal([4], batch.Classes.Shape.ToArray());
        Assert.Equal(DType.Int64, batch.Classes.DType);
        Assert.Equal([4, 12], batch.MultiLabels.Shape.ToArray());
        Assert.Equal([4, 48, 48], batch.Semantic.Shape.ToArray());
        Assert.Equal(DType.Int64, batch.Semantic.DType);
        Assert.Equal([4, 1, 48, 48], batch.Depth.Shape.ToArray());
        Assert.Equal([4, 12], batch.CaptionTokens.Shape.ToArray());
        Assert.Equal(4, batch.Boxes.Count);
        for (int b = 0; b < 4; b++)
        {
            var scene = WorldGenerator.Generate(source, "train", b, 0, 48);
            Assert.Equal([scene.Boxes.Count, 4], batch.Boxes[b].Shape.ToArray());
            Assert.Equal(scene.Objects.Select(o => (long)o.Shape), batch.BoxLabels[b].ToArray<long>());
            Assert.Equal(scene.Caption, batch.Captions[b]);
            Assert.Equal((scene.Buffers.Image[5] - 0.5f) / 0.25f, batch.Images.ToArray()[b * 3 * 48 * 48 + 5], 5);
        }
    }

    [Fact]
    public void GenerationIsFastEnough()
    {
        // Loose bound so a loaded CI machine never flakes; the measured figure (Release, one core) is in the report.
        double rate = WorldStats.ScenesPerSecond(WorldSources.Get("objects-det"), 400);
        Assert.True(rate >= 300, $"generated {rate:F0} scenes/s, expected at least 300");
    }
}
