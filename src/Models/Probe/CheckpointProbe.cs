using Tessera.Autograd;
using Tessera.Models.Data.World;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Probe;

/// <summary>
/// <c>tessera probe CHECKPOINT --suite SUITE</c>: rebuilds a training checkpoint's model from the
/// recipe stored in it, extracts frozen features (the backbone's last map, globally pooled, eval
/// mode) of a downstream classification suite's train and test splits, and returns them for
/// <see cref="LinearProbe"/>.
/// </summary>
public static class CheckpointProbe
{
    /// <summary>Whether <paramref name="path"/> is a Tessera training checkpoint (rather than a features file).</summary>
    public static bool IsCheckpoint(string path) => Checkpoint.IsCheckpoint(path);

    /// <summary>Train and test features of <paramref name="suite"/> (first <paramref name="trainCount"/>/<paramref name="testCount"/> images).</summary>
    public static (ProbeSplit Train, ProbeSplit Test, int ClassCount) Extract(string checkpointPath, string suite, int trainCount, int testCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trainCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(testCount, 1);
        if (!WorldSources.All.Any(s => s.Name == suite))
            throw new ArgumentException($"probe: --suite expected a classification suite of the world ({string.Join(", ", ClassificationSuites())}), found '{suite}'");
        var source = WorldSources.Get(suite);
        if (source.Task != WorldTask.Classification)
            throw new ArgumentException($"probe: --suite '{suite}' is a {source.Task.ToString().ToLowerInvariant()} suite; the linear probe needs a classification suite ({string.Join(", ", ClassificationSuites())})");
        var recipe = RecipeLoader.Parse(Checkpoint.ReadRecipe(checkpointPath), $"{checkpointPath} (stored recipe)");
        var trainer = RecipeCatalog.Build(recipe).CreateTrainer();
        Checkpoint.Restore(checkpointPath, trainer);
        var backbone = trainer.Model.Backbone;
        string task = trainer.Model.Tasks[0].Name; // a task-routed backbone (GPPF) takes its first task's route
        // The world renders scenes of 32 px and more; backbones pool globally, so a model trained on
        // smaller inputs (strokes: 16 px) reads 32-px images too.
        int size = Math.Max(trainer.Model.Tasks[0].InputSize, 32);
        ProbeSplit train;
        try
        {
            train = Features(backbone, task, source, "train", trainCount, size);
        }
        catch (Engine.TensorShapeException e)
        {
            throw new ArgumentException($"probe: the model in '{checkpointPath}' does not take {suite}'s RGB images at {size} px ({e.Message}); probe a checkpoint of a model trained on the procedural world (recipes demo, gppf, or any recipe whose tasks use world sources such as shapes-cls)", e);
        }
        var test = Features(backbone, task, source, "test", testCount, size);
        return (train, test, source.ClassNames().Count);
    }

    private static IEnumerable<string> ClassificationSuites() =>
        WorldSources.All.Where(s => s.Task == WorldTask.Classification).Select(s => s.Name);

    private static ProbeSplit Features(IMultiTaskBackbone backbone, string task, WorldSource source, string split, int count, int size)
    {
        int available = WorldGenerator.SplitLength(source, split, WorldTaskSource.WorldSeed) ?? count;
        count = Math.Min(count, available);
        backbone.Module.Eval();
        using var noGrad = GradMode.NoGrad();
        var rows = new List<float>();
        var labels = new List<long>();
        int width = 0;
        const int batchSize = 100;
        for (int start = 0; start < count; start += batchSize)
        {
            using var scope = new TensorScope();
            var indices = Enumerable.Range(start, Math.Min(batchSize, count - start)).Select(i => (long)i).ToArray();
            var batch = WorldBatch.Create(source, split, indices, WorldTaskSource.WorldSeed, size);
            var pooled = Functional.GlobalAvgPool2d(backbone.Forward(task, batch.Images).Final).Flatten(1).Contiguous();
            width = pooled.Size(1);
            rows.AddRange(pooled.ToArray<float>());
            labels.AddRange(batch.Classes.ToArray<long>());
        }
        return new ProbeSplit(Tensor.FromArray(rows.ToArray(), labels.Count, width), Tensor.FromArray(labels.ToArray(), labels.Count));
    }
}
