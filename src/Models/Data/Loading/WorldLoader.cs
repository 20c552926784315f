using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;

namespace Tessera.Models.Data.Loading;

/// <summary>
/// Batches of a world source for training, prepared in the background. Streams (pre-training
/// sources) take consecutive indices; finite splits (suites) are walked in a seeded shuffle that
/// changes every epoch. An optional augmentation runs per sample with its own Philox stream keyed by
/// (source, split, index, seed, step), so augmented batches are reproducible too.
/// </summary>
public static class WorldLoader
{
    /// <summary>A size-preserving augmentation: (sample, random) → sample of the same size.</summary>
    public delegate ImageSample Augmentation(ImageSample sample, SceneRandom random);

    /// <summary>The scene indices of batch <paramref name="step"/> (what the loader generates; exposed for tests and resumption).</summary>
    public static long[] Indices(WorldSource source, string split, int batchSize, int step, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var indices = new long[batchSize];
        int? length = WorldGenerator.SplitLength(source, split, seed);
        for (int b = 0; b < batchSize; b++)
        {
            long position = (long)step * batchSize + b;
            if (length is not { } n)
            {
                indices[b] = position;
                continue;
            }
            long epoch = position / n;
            indices[b] = Permutation(n, SceneKey.Hash(source.Name, split + "/epoch", epoch, seed))[(int)(position % n)];
        }
        return indices;
    }

    /// <summary>A loader of <paramref name="steps"/> batches starting at <paramref name="firstStep"/> (resume by passing the next step).</summary>
    public static BackgroundLoader<WorldBatch> Create(WorldSource source, string split, int batchSize, int steps, ulong seed,
                                                      int size = WorldGenerator.DefaultSize, Augmentation? augment = null, int firstStep = 0, int capacity = 2)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new BackgroundLoader<WorldBatch>(steps, i => Batch(source, split, batchSize, firstStep + i, seed, size, augment), capacity);
    }

    /// <summary>Batch <paramref name="step"/>, generated on the calling thread (the loader calls this on its worker).</summary>
    public static WorldBatch Batch(WorldSource source, string split, int batchSize, int step, ulong seed, int size = WorldGenerator.DefaultSize, Augmentation? augment = null)
    {
        var indices = Indices(source, split, batchSize, step, seed);
        if (augment is null)
            return WorldBatch.Create(source, split, indices, seed, size);
        return WorldBatch.Pack(source, size, batchSize, 16, null, (b, buffers) =>
        {
            var scene = WorldGenerator.Generate(source, split, indices[b], seed, size, buffers);
            var random = new SceneRandom(SceneKey.Hash(source.Name, split + "/augment", indices[b], SceneKey.Mix(seed) ^ (ulong)step));
            var sample = augment(ImageSample.FromScene(scene), random);
            if (sample.Width != size || sample.Height != size)
                throw new InvalidOperationException($"augmentations in a loader must keep the {size}x{size} size; got {sample.Width}x{sample.Height}");
            sample.Image.CopyTo(buffers.Image, 0);
            sample.Semantic?.CopyTo(buffers.Semantic, 0);
            sample.Depth?.CopyTo(buffers.Depth, 0);
            return new WorldBatch.Labels(source.ClassOf(scene.Layout), scene.Tags, scene.Caption, sample.Boxes, sample.BoxLabels, scene.CleanTags);
        });
    }

    private static int[] Permutation(int length, ulong key)
    {
        var order = new int[length];
        for (int i = 0; i < length; i++) order[i] = i;
        var random = new SceneRandom(key);
        for (int i = length - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
