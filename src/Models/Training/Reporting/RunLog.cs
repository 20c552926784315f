using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Models.Training;

/// <summary>
/// The per-step JSON-lines log (runs/NAME/log.jsonl): one object per step with "step", "loss",
/// "lr", "tasks" (per device), "images_per_s", "skipped" and every "task/metric". Each line is
/// flushed as written, so a killed run's log is complete up to its last line; on resume the log
/// is cut back to the checkpoint's step (atomically) so it never holds steps twice.
/// </summary>
public sealed class RunLog : IDisposable
{
    private StreamWriter? _writer;

    /// <summary>
    /// A resumed log (resumeStep &gt; 0) is cut back now; a fresh one is created at its first line,
    /// so a run that fails before its first step leaves no empty log behind.
    /// </summary>
    public RunLog(string path, long resumeStep)
    {
        Path = path;
        string? folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        if (resumeStep > 0)
        {
            var kept = Read(path).Where(e => e.Step < resumeStep).Select(e => e.Line).ToList();
            AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
            _writer = Open(FileMode.Append);
        }
    }

    private StreamWriter Open(FileMode mode) =>
        new(new FileStream(Path, mode, FileAccess.Write, FileShare.Read)) { AutoFlush = true };

    public string Path { get; }

    public void Write(StepResult result, double learningRate, double imagesPerSecond)
    {
        ArgumentNullException.ThrowIfNull(result);
        var line = new JsonObject
        {
            ["step"] = result.Step,
            ["loss"] = Finite(result.Loss),
            ["lr"] = learningRate,
            ["tasks"] = new JsonArray(result.DeviceTasks.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
            ["images_per_s"] = Math.Round(imagesPerSecond, 1),
        };
        if (result.Skipped is not null) line["skipped"] = result.Skipped;
        foreach (var (key, value) in result.Metrics.Where(kv => kv.Key != "loss").OrderBy(kv => kv.Key, StringComparer.Ordinal))
            line[key] = Finite(value);
        _writer ??= Open(FileMode.Create);
        _writer.WriteLine(line.ToJsonString());
    }

    /// <summary>Entries of a log (lines that do not parse, such as a line cut by a kill, are dropped).</summary>
    public static List<(long Step, string Line, JsonObject Values)> Read(string path)
    {
        var entries = new List<(long, string, JsonObject)>();
        if (!File.Exists(path)) return entries;
        foreach (var line in File.ReadAllLines(path))
        {
            try
            {
                if (JsonNode.Parse(line) is JsonObject obj && obj["step"] is JsonValue step)
                    entries.Add((step.GetValue<long>(), line, obj));
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                // A partial last line from a killed run: the resumed run rewrites that step.
            }
        }
        return entries;
    }

    public void Dispose() => _writer?.Dispose();

    private static JsonNode? Finite(double value) => double.IsFinite(value) ? JsonValue.Create(Math.Round(value, 6)) : JsonValue.Create(value.ToString(CultureInfo.InvariantCulture));
}
