using Tessera.Models.Data.Loading;
using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

/// <summary>The tags source keeps its clean labels next to the noisy ones; its noise rate can be changed without changing the scenes.</summary>
public sealed class CleanTagTests
{
    [Fact]
    public void CleanTagsAreTheVisibleShapesAndNoisyTagsDifferAtTheConfiguredRate()
    {
        var tags = WorldSources.Get("tags");
        var noisy = WorldSources.WithTagNoise(tags, 0.4f);
        var clean = WorldSources.WithTagNoise(tags, 0f);
        var indices = Enumerable.Range(0, 200).Select(i => (long)i).ToArray();
        using var batch = WorldBatch.Create(tags, "train", indices, 3, 32);
        using var high = WorldBatch.Create(noisy, "train", indices, 3, 32);
        using var none = WorldBatch.Create(clean, "train", indices, 3, 32);
        float[] cleanTags = batch.CleanMultiLabels.ToArray<float>();
        Assert.Equal(cleanTags, high.CleanMultiLabels.ToArray<float>());
        Assert.Equal(cleanTags, none.MultiLabels.ToArray<float>());
        Assert.Equal(batch.Images.ToArray<float>(), high.Images.ToArray<float>());
        for (int b = 0; b < 5; b++)
        {
            var scene = WorldGenerator.Generate(tags, "train", b, 3, 32);
            for (int c = 0; c < ShapeSdf.Count; c++)
                Assert.Equal(scene.Objects.Any(o => (int)o.Shape == c), cleanTags[b * ShapeSdf.Count + c] == 1f);
        }
        double Dropped(WorldBatch w)
        {
            float[] n = w.MultiLabels.ToArray<float>();
            int present = 0, lost = 0;
            for (int i = 0; i < n.Length; i++)
                if (cleanTags[i] == 1f) { present++; if (n[i] == 0f) lost++; }
            return (double)lost / present;
        }
        Assert.InRange(Dropped(batch), 0.10, 0.20);
        Assert.InRange(Dropped(high), 0.33, 0.47);
    }

    [Fact]
    public void ShardsAndAugmentedLoadersCarryCleanTags()
    {
        var tags = WorldSources.Get("tags");
        using var plain = WorldBatch.Create(tags, "train", [0, 1, 2, 3], 0, 32);
        using var loaded = WorldLoader.Batch(tags, "train", 4, 0, 0, 32, (s, _) => s);
        Assert.Equal(plain.CleanMultiLabels.ToArray<float>(), loaded.CleanMultiLabels.ToArray<float>());
        string path = Path.Combine(Path.GetTempPath(), $"tessera-cleantags-{Environment.ProcessId}.shard");
        try
        {
            SceneShard.Write(path, tags, "train", 0, 32, 0, 4);
            using var cached = SceneShard.Read(path).Batch([0, 1, 2, 3]);
            Assert.Equal(plain.CleanMultiLabels.ToArray<float>(), cached.CleanMultiLabels.ToArray<float>());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void NoiseRateOutsideTheUnitIntervalOrANonTagSourceIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => WorldSources.WithTagNoise(WorldSources.Get("tags"), 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => WorldSources.WithTagNoise(WorldSources.Get("tags"), float.NaN));
        Assert.Throws<ArgumentException>(() => WorldSources.WithTagNoise(WorldSources.Get("shapes-cls"), 0.2f));
    }
}
