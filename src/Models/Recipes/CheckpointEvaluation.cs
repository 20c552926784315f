using System.Diagnostics;
using System.Text.Json;
using Tessera.Models.Training;

namespace Tessera.Models.Recipes;

/// <summary>
/// <c>tessera eval</c>'s work: rebuild the model from the recipe stored in a checkpoint, load the
/// checkpoint, evaluate every task on its test batches, and write the metrics (with "steps" and
/// "seconds") to OUT/metrics.json atomically.
/// </summary>
public static class CheckpointEvaluation
{
    public static Dictionary<string, object> Run(string checkpointPath, string outputFolder, int? evalBatches = null, Engine.Device? device = null)
    {
        var clock = Stopwatch.StartNew();
        var overrides = evalBatches is int b ? new[] { $"eval_batches={b}" } : [];
        var recipe = RecipeLoader.Parse(Checkpoint.ReadRecipe(checkpointPath), $"{checkpointPath} (stored recipe)", overrides);
        var build = RecipeCatalog.Build(recipe);
        var trainer = (build with { Options = build.Options with { Device = device ?? Engine.Device.Cpu } }).CreateTrainer();
        Checkpoint.Restore(checkpointPath, trainer);
        var metrics = RunMetrics.FromEvaluation(trainer.Evaluate(), trainer.Model.Tasks.Select(t => t.Name).ToList());
        metrics["steps"] = trainer.Step;
        metrics["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        AtomicFile.WriteAllText(Path.Combine(outputFolder, "metrics.json"), JsonSerializer.Serialize(metrics) + Environment.NewLine);
        return metrics;
    }
}
