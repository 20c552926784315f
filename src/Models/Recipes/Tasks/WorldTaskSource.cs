using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Detection;
using Tessera.Models.Training;

namespace Tessera.Models.Recipes;

/// <summary>
/// A procedural-world source (<see cref="WorldSources"/>) as a training task: scenes rendered at
/// the task's input size, with the targets its task names — int64 classes [B] (classification),
/// float tags [B, 12] (multi-label), per-image <see cref="DetectionTarget"/>s with labels shifted
/// by one (0 is background), int64 semantic maps [B, S, S] (255 = ignore) or float depth [B, 1, S, S].
/// The world seed is fixed (0), so every recipe and seed sees the same train and test scenes and
/// single-task and multi-task runs are compared on the same test split.
/// </summary>
public sealed class WorldTaskSource : ITaskSource, ILabelledSource
{
    /// <summary>The world's seed: the data set, not the run (the run's seed draws the training order).</summary>
    public const ulong WorldSeed = 0;

    public WorldTaskSource(string name, string sourceName)
    {
        Name = name;
        Source = WorldSources.Get(sourceName);
        if (Source.Task == WorldTask.Captioning)
            throw new InvalidDataException($"recipe: world source '{sourceName}' is a captioning source; Tessera's heads train classification, multi-label, detection, segmentation and depth");
    }

    public string Name { get; }

    public WorldSource Source { get; }

    /// <summary>Classes of the label space (shapes for detection, 21 or 10 segmentation classes, 0 for depth).</summary>
    public int ClassCount => Source.Task switch
    {
        WorldTask.Classification => Source.ClassNames().Count,
        WorldTask.Segmentation => Source.SegmentationClassCount,
        WorldTask.Depth => 0,
        _ => ShapeSdf.Count,
    };

    /// <summary>Class names for classification, shape names for detection, class numbers otherwise.</summary>
    public IReadOnlyList<string> ClassNames => Source.Task switch
    {
        WorldTask.Classification => Source.ClassNames(),
        WorldTask.Detection when Enum.GetNames<ShapeKind>().Length == ClassCount => Enum.GetNames<ShapeKind>().Select(n => n.ToLowerInvariant()).ToList(),
        _ => Enumerable.Range(0, ClassCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(),
    };

    public TaskBatch Sample(DataSplit split, long index, int batchSize, int inputSize, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var indices = new long[batchSize];
        string splitName = split == DataSplit.Train ? "train" : "test";
        int? length = WorldGenerator.SplitLength(Source, splitName, WorldSeed);
        for (int i = 0; i < batchSize; i++)
        {
            // Training scenes are drawn from the device's stream (checkpointed); test scenes are consecutive.
            long scene = split == DataSplit.Train ? generator.NextInt(length ?? int.MaxValue) : index * batchSize + i;
            indices[i] = length is int n ? scene % n : scene;
        }
        var batch = WorldBatch.Create(Source, splitName, indices, WorldSeed, inputSize);
        object targets = Source.Task switch
        {
            WorldTask.Classification => batch.Classes,
            WorldTask.MultiLabel => batch.MultiLabels,
            WorldTask.Detection => batch.Boxes.Select((boxes, b) => new DetectionTarget(boxes, ShiftLabels(batch.BoxLabels[b]))).ToArray(),
            WorldTask.Segmentation => batch.Semantic,
            _ => batch.Depth,
        };
        return new TaskBatch(batch.Images, targets);
    }

    private static Tensor ShiftLabels(Tensor labels)
    {
        var shifted = labels.Numel == 0 ? [] : labels.ToArray<long>();
        for (int i = 0; i < shifted.Length; i++) shifted[i]++;
        return Tensor.FromArray(shifted, shifted.Length);
    }
}
