using Tessera.Autograd;
using Tessera.Engine.Serialization;

namespace Tessera.Models.Probe;

/// <summary>
/// Frozen features for <c>tessera probe</c>: a safetensors file with "train.features" [N, D]
/// float32 and "train.labels" [N] int64, and optionally the same pair under "val." and "test."
/// (PyTorch users write one with safetensors.torch.save_file).
/// </summary>
public static class ProbeFeatureFile
{
    private static readonly string[] Splits = ["train", "val", "test"];

    public static (ProbeSplit Train, ProbeSplit? Validation, ProbeSplit? Test) Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var (tensors, _) = SafeTensors.Read(path);
        ProbeSplit? Split(string name)
        {
            bool hasFeatures = tensors.TryGetValue($"{name}.features", out var features);
            bool hasLabels = tensors.TryGetValue($"{name}.labels", out var labels);
            if (hasFeatures != hasLabels)
                throw new InvalidDataException($"probe: '{path}' has '{name}.{(hasFeatures ? "features" : "labels")}' but not '{name}.{(hasFeatures ? "labels" : "features")}'; each split needs both");
            return hasFeatures ? new ProbeSplit(Tensor.FromEntry(features!), Tensor.FromEntry(labels!)) : null;
        }
        var keys = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        string found = keys.Count <= 6 ? string.Join(", ", keys) : $"{keys.Count} tensors such as {string.Join(", ", keys.Take(3))}";
        var train = Split("train") ?? throw new InvalidDataException(
            $"probe: '{path}' has no 'train.features' and 'train.labels': expected a features file (tensors 'train.features' [N, D] and 'train.labels' [N], optionally 'val.*' and 'test.*') or a training checkpoint written by 'tessera train' (OUT/checkpoint.safetensors); it holds {found}");
        return (train, Split("val"), Split("test"));
    }

    /// <summary>Writes the splits given (atomically: temp file + rename).</summary>
    public static void Save(string path, ProbeSplit train, ProbeSplit? validation = null, ProbeSplit? test = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(train);
        var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        foreach (var (name, split) in Splits.Zip(new[] { train, validation, test }))
        {
            if (split is null) continue;
            entries[$"{name}.features"] = split.Features.Contiguous().ToEntry();
            entries[$"{name}.labels"] = split.Labels.Contiguous().ToEntry();
        }
        SafeTensors.Write(path, entries);
    }
}

/// <summary>The probe's figures as the one-line JSON object every run prints and writes to metrics.json.</summary>
public static class LinearProbeMetrics
{
    public static Dictionary<string, object> ToMetrics(this LinearProbeReport report, double seconds)
    {
        ArgumentNullException.ThrowIfNull(report);
        var metrics = new Dictionary<string, object>
        {
            ["probe_l2"] = report.ChosenL2,
            ["train_top1"] = Math.Round(report.TrainAccuracy, 4),
            ["val_top1"] = Math.Round(report.ValidationAccuracy, 4),
        };
        if (report.TestAccuracy is { } test) metrics["test_top1"] = Math.Round(test, 4);
        metrics["iterations"] = report.Model.Iterations;
        metrics["seconds"] = Math.Round(seconds, 2);
        return metrics;
    }
}
