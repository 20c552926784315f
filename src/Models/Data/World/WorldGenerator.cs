using System.Collections.Concurrent;

namespace Tessera.Models.Data.World;

/// <summary>
/// Generates scenes by key: (source, split, index, seed) → the same image and labels on any machine.
/// The key is hashed into the seed of a Philox <see cref="Engine.Random.Generator"/> that drives all
/// sampling; rendering itself is deterministic arithmetic.
/// </summary>
public static class WorldGenerator
{
    public const int MinSize = 32, MaxSize = 256, DefaultSize = 64;

    private static readonly ConcurrentDictionary<(string, ulong), int[]> s_tenPercent = new();

    /// <summary>Renders scene <paramref name="index"/> of a split. Pass <paramref name="buffers"/> to reuse pixel memory (the scene then aliases them).</summary>
    public static Scene Generate(WorldSource source, string split, long index, ulong seed, int size = DefaultSize, SceneBuffers? buffers = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (size is < MinSize or > MaxSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"scene size must be in {MinSize}..{MaxSize}");
        var (keySplit, keyIndex) = ResolveSplit(source, split, index, seed);
        var random = new SceneRandom(SceneKey.Hash(source.Name, keySplit, keyIndex, seed));
        var layout = SceneSampler.Sample(source.Domain, size, random);
        buffers ??= new SceneBuffers(size);
        if (buffers.Size != size)
            throw new ArgumentException($"buffers are {buffers.Size}x{buffers.Size}, asked for {size}x{size}");
        var (objects, boxes, counts) = SceneRenderer.Render(layout, buffers);
        string caption = Captions.Describe(layout, objects, random);
        var tags = Tags(objects, source.Domain.TagNoise, random);
        return new Scene(layout, buffers, objects, boxes, counts, caption, tags);
    }

    /// <summary>Only the layout (no pixels): enough for classification labels, used to build per-class splits cheaply.</summary>
    public static SceneLayout SampleLayout(WorldSource source, string split, long index, ulong seed, int size = DefaultSize)
    {
        var (keySplit, keyIndex) = ResolveSplit(source, split, index, seed);
        return SceneSampler.Sample(source.Domain, size, new SceneRandom(SceneKey.Hash(source.Name, keySplit, keyIndex, seed)));
    }

    /// <summary>Number of scenes in a split: a suite's fixed size, or null for an unbounded stream.</summary>
    public static int? SplitLength(WorldSource source, string split, ulong seed)
    {
        if (source.SplitSizes.Count == 0) return null;
        if (split == "train10") return TenPercentIndices(source, seed).Length;
        return source.SplitSizes.TryGetValue(split, out int n) ? n
            : throw new ArgumentException($"suite {source.Name} has splits {string.Join(", ", source.SplitSizes.Keys)}; got '{split}'");
    }

    /// <summary>
    /// The 10% training split of a suite, as indices into its "train" split: per class (the main
    /// object's class; one class for depth), the first 10% (at least one) after a seeded shuffle.
    /// </summary>
    public static int[] TenPercentIndices(WorldSource source, ulong seed) => s_tenPercent.GetOrAdd((source.Name, seed), _ =>
    {
        int total = source.SplitSizes.TryGetValue("train", out int n) ? n
            : throw new ArgumentException($"source {source.Name} is not a downstream suite; it has no 10% split");
        var order = Enumerable.Range(0, total).ToArray();
        var random = new SceneRandom(SceneKey.Hash(source.Name, "train10-shuffle", 0, seed));
        for (int i = total - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var byClass = new SortedDictionary<int, List<int>>();
        foreach (int i in order)
        {
            int label = source.Task == WorldTask.Depth ? 0 : source.ClassOf(SampleLayout(source, "train", i, seed));
            if (!byClass.TryGetValue(label, out var list)) byClass[label] = list = [];
            list.Add(i);
        }
        var chosen = new List<int>();
        foreach (var list in byClass.Values)
            chosen.AddRange(list.Take(Math.Max(1, (int)Math.Ceiling(list.Count * 0.1))));
        chosen.Sort();
        return chosen.ToArray();
    });

    private static (string Split, long Index) ResolveSplit(WorldSource source, string split, long index, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (source.SplitSizes.Count == 0)
        {
            if (split is not ("train" or "val" or "test"))
                throw new ArgumentException($"source {source.Name} has splits train, val, test; got '{split}'");
            return (split, index);
        }
        int length = SplitLength(source, split, seed)!.Value;
        if (index >= length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"suite {source.Name} split {split} has {length} scenes");
        return split == "train10" ? ("train", TenPercentIndices(source, seed)[index]) : (split, index);
    }

    private static bool[] Tags(SceneObject[] visible, float noise, SceneRandom random)
    {
        var tags = new bool[ShapeSdf.Count];
        foreach (var obj in visible) tags[(int)obj.Shape] = true;
        if (noise <= 0f) return tags;
        int present = tags.Count(t => t);
        // Drop each present tag with probability p; add absent ones at a rate that keeps the expected count.
        float addRate = noise * present / Math.Max(1, ShapeSdf.Count - present);
        for (int c = 0; c < tags.Length; c++)
            tags[c] = tags[c] ? !random.Chance(noise) : random.Chance(addRate);
        return tags;
    }
}
