using System.Diagnostics;

namespace Tessera.Models.Data.World;

/// <summary>Statistics of a source measured over generated scenes (what <c>tessera data stats</c> prints).</summary>
public sealed record WorldStatistics(
    string Source,
    int Samples,
    int Size,
    IReadOnlyList<string> ClassNames,
    long[] ClassCounts,
    double ObjectsMean,
    int ObjectsMin,
    int ObjectsMax,
    long[] ShapeCounts,
    double BoxSideMean,
    long SmallBoxes,
    long MediumBoxes,
    long LargeBoxes,
    double[] StuffFractions,
    double ObjectFraction,
    double TagsPerImage,
    double ScenesPerSecond);

public static class WorldStats
{
    /// <summary>Generates <paramref name="samples"/> scenes of the split on one thread and measures them (and the generation rate).</summary>
    public static WorldStatistics Measure(WorldSource source, int samples, int size, ulong seed, string split = "train")
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        var names = source.ClassNames();
        var classCounts = new long[names.Count];
        var shapeCounts = new long[ShapeSdf.Count];
        var stuffPixels = new long[StuffClasses.Count];
        long objectPixels = 0, objects = 0, small = 0, medium = 0, large = 0, tags = 0;
        int minObjects = int.MaxValue, maxObjects = 0;
        double boxSides = 0;
        double generateSeconds = 0;
        var buffers = new SceneBuffers(size);
        int? length = WorldGenerator.SplitLength(source, split, seed);
        if (length is { } n) samples = Math.Min(samples, n);
        for (int i = 0; i < samples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            var scene = WorldGenerator.Generate(source, split, i, seed, size, buffers);
            generateSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
            classCounts[source.ClassOf(scene.Layout)]++;
            int count = scene.Objects.Count;
            objects += count;
            minObjects = Math.Min(minObjects, count);
            maxObjects = Math.Max(maxObjects, count);
            for (int k = 0; k < count; k++)
            {
                shapeCounts[(int)scene.Objects[k].Shape]++;
                float side = MathF.Sqrt(scene.Boxes[k].Area) / size;
                boxSides += side;
                if (side < 0.1f) small++;
                else if (side < 0.3f) medium++;
                else large++;
            }
            foreach (byte s in buffers.Semantic)
            {
                if (s >= ShapeSdf.Count) stuffPixels[s - ShapeSdf.Count]++;
                else objectPixels++;
            }
            foreach (bool t in scene.Tags) if (t) tags++;
        }
        double pixels = (double)samples * size * size;
        return new WorldStatistics(source.Name, samples, size, names, classCounts, (double)objects / samples, minObjects, maxObjects, shapeCounts,
            objects > 0 ? boxSides / objects : 0, small, medium, large, stuffPixels.Select(p => p / pixels).ToArray(), objectPixels / pixels,
            (double)tags / samples, samples / Math.Max(generateSeconds, 1e-9));
    }

    /// <summary>Single-thread generation rate over <paramref name="count"/> scenes of a source, buffers reused (the streaming case).</summary>
    public static double ScenesPerSecond(WorldSource source, int count, int size = WorldGenerator.DefaultSize, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(source);
        var buffers = new SceneBuffers(size);
        int length = WorldGenerator.SplitLength(source, "train", seed) ?? int.MaxValue; // suites are finite: wrap around
        for (int i = 0; i < Math.Min(count, 50); i++) WorldGenerator.Generate(source, "train", i % length, seed + 1, size, buffers); // warm-up (JIT)
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++) WorldGenerator.Generate(source, "train", i % length, seed, size, buffers);
        return count / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
