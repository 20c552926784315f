using Tessera.Models.Data.Images;
using Tessera.Models.Data.Loading;
using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

public class WorldLoaderTests
{
    [Fact]
    public void BackgroundBatchesEqualDirectOnesInOrder()
    {
        var source = WorldSources.Get("objects-det");
        using var loader = WorldLoader.Create(source, "train", 4, 3, seed: 2, size: 32);
        int step = 0;
        foreach (var batch in loader.Batches())
        {
            using (batch)
            using (var direct = WorldLoader.Batch(source, "train", 4, step, 2, 32))
            {
                Assert.Equal(direct.Images.ToArray(), batch.Images.ToArray());
                Assert.Equal(WorldLoader.Indices(source, "train", 4, step, 2), Enumerable.Range(step * 4, 4).Select(i => (long)i));
            }
            step++;
        }
        Assert.Equal(3, step);
    }

    [Fact]
    public void FiniteSplitsAreShuffledPerEpochAndCovered()
    {
        var source = WorldSources.Get("down-textures");
        int n = WorldGenerator.SplitLength(source, "train10", 0)!.Value;
        var epoch0 = Enumerable.Range(0, n).SelectMany(s => WorldLoader.Indices(source, "train10", 1, s, 0)).ToArray();
        var epoch1 = Enumerable.Range(n, n).SelectMany(s => WorldLoader.Indices(source, "train10", 1, s, 0)).ToArray();
        Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), epoch0.Order());
        Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);
    }

    [Fact]
    public void AugmentedBatchesAreReproducibleAndKeepIgnorePadding()
    {
        var source = WorldSources.Get("parts-seg");
        static ImageSample Augmentation(ImageSample s, SceneRandom r) => Augment.ColorJitter(Augment.ScaleJitter(Augment.RandomHorizontalFlip(s, r), r, 0.5f, 0.9f), r);
        using var a = WorldLoader.Batch(source, "train", 3, 5, 1, 48, Augmentation);
        using var b = WorldLoader.Batch(source, "train", 3, 5, 1, 48, Augmentation);
        using var plain = WorldLoader.Batch(source, "train", 3, 5, 1, 48);
        Assert.Equal(a.Images.ToArray(), b.Images.ToArray());
        Assert.NotEqual(plain.Images.ToArray(), a.Images.ToArray());
        // Shrinking by 0.5-0.9 always pads, and padding is the ignore index.
        Assert.Contains((long)WorldSource.IgnoreIndex, a.Semantic.ToArray<long>());
        Assert.DoesNotContain((long)WorldSource.IgnoreIndex, plain.Semantic.ToArray<long>());
    }
}
