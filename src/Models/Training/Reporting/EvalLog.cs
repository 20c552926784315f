using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Models.Training;

/// <summary>
/// eval.jsonl in a run folder: one line per evaluation on the test split ({"step": N, "task/metric": value, ...}),
/// written at each checkpoint and at the end, so reports can draw test metrics over training.
/// A resumed run appends; a reader keeps the last line of each step.
/// </summary>
public static class EvalLog
{
    public const string FileName = "eval.jsonl";

    public static void Append(string folder, long step, IReadOnlyDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var line = new JsonObject { ["step"] = step };
        foreach (var (key, value) in metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            line[key] = double.IsFinite(value) ? Math.Round(value, 6) : null;
        Directory.CreateDirectory(folder);
        File.AppendAllText(Path.Combine(folder, FileName), line.ToJsonString() + Environment.NewLine);
    }

    /// <summary>Evaluations by step (ascending); lines that do not parse (cut by a kill) are dropped.</summary>
    public static List<(long Step, Dictionary<string, double> Values)> Read(string path)
    {
        var byStep = new SortedDictionary<long, Dictionary<string, double>>();
        if (!File.Exists(path)) return [];
        foreach (var text in File.ReadLines(path))
        {
            JsonObject? line;
            try
            {
                line = JsonNode.Parse(text) as JsonObject;
            }
            catch (JsonException)
            {
                continue;
            }
            if (line?["step"] is not JsonValue stepValue || !stepValue.TryGetValue<long>(out long step)) continue;
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var (key, node) in line)
                if (key != "step" && node is JsonValue v && v.TryGetValue<double>(out double value)) values[key] = value;
            byStep[step] = values;
        }
        return byStep.Select(kv => (kv.Key, kv.Value)).ToList();
    }
}
