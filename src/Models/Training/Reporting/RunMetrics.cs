namespace Tessera.Models.Training;

/// <summary>
/// The keys of metrics.json, one rule for <c>tessera train</c> and <c>tessera eval</c>: with one
/// task its test metrics go unprefixed ("top1", and its test loss as "test_loss"); with several,
/// each keeps its "task/metric" name. Training adds "train_loss" (mean of the last logged steps),
/// and both add "steps" and "seconds".
/// </summary>
public static class RunMetrics
{
    /// <summary>Test metrics from <see cref="MultiTaskTrainer.Evaluate"/> under metrics.json's key names, rounded to 4 places.</summary>
    public static Dictionary<string, object> FromEvaluation(IReadOnlyDictionary<string, double> evaluation, IReadOnlyCollection<string> taskNames)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        ArgumentNullException.ThrowIfNull(taskNames);
        var metrics = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (key, value) in evaluation.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            string name = key;
            if (taskNames.Count == 1)
            {
                name = key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..];
                if (name == "loss") name = "test_loss";
            }
            metrics[name] = Math.Round(value, 4);
        }
        return metrics;
    }

    /// <summary>Mean training loss of the last <paramref name="window"/> steps in a run's log that were not skipped, or NaN.</summary>
    public static double TrainLoss(string logPath, int window = 10)
    {
        var losses = RunLog.Read(logPath)
            .Where(e => e.Values["skipped"] is null && e.Values["loss"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out double _))
            .Select(e => e.Values["loss"]!.GetValue<double>())
            .ToList();
        return losses.Count == 0 ? double.NaN : losses.TakeLast(window).Average();
    }
}
