using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Models.Training;

/// <summary>
/// Writes a run's curves (loss.svg, metrics.svg, from log.jsonl) and its report (report.md and a
/// self-contained report.html) with the final metrics and the recipe.
/// </summary>
public static class RunReport
{
    public static void Write(string folder, string name, string logPath, IReadOnlyDictionary<string, object> finalMetrics, string recipeJson)
    {
        ArgumentNullException.ThrowIfNull(finalMetrics);
        var entries = RunLog.Read(logPath);
        var lossSeries = new List<PlotSeries> { new("loss (mean over devices)", Smooth(Points(entries, "loss"))) };
        var metricKeys = entries.SelectMany(e => e.Values.Select(p => p.Key)).Where(k => k.Contains('/', StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal).ToList();
        lossSeries.AddRange(metricKeys.Where(k => k.EndsWith("/loss", StringComparison.Ordinal)).Select(k => new PlotSeries(k, Smooth(Points(entries, k)))));
        var otherSeries = metricKeys.Where(k => !k.EndsWith("/loss", StringComparison.Ordinal)).Select(k => new PlotSeries(k, Smooth(Points(entries, k)))).ToList();
        string lossSvg = SvgLinePlot.Render($"{name}: training loss (smoothed over 10 steps)", "step", "loss", lossSeries);
        string metricsSvg = SvgLinePlot.Render($"{name}: training metrics (smoothed over 10 steps)", "step", "value", otherSeries);
        AtomicFile.WriteAllText(Path.Combine(folder, "loss.svg"), lossSvg);
        AtomicFile.WriteAllText(Path.Combine(folder, "metrics.svg"), metricsSvg);

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Run report: {name}").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"{entries.Count} logged steps; skipped steps: {entries.Count(e => e.Values.ContainsKey("skipped"))}.").AppendLine();
        md.AppendLine("## Final metrics").AppendLine().AppendLine("| metric | value |").AppendLine("|---|---|");
        foreach (var (key, value) in finalMetrics) md.AppendLine(CultureInfo.InvariantCulture, $"| {key} | {Format(value)} |");
        md.AppendLine().AppendLine("## Curves").AppendLine().AppendLine("![loss](loss.svg)").AppendLine().AppendLine("![metrics](metrics.svg)").AppendLine();
        md.AppendLine("## Recipe").AppendLine().AppendLine("```json").AppendLine(recipeJson).AppendLine("```");
        AtomicFile.WriteAllText(Path.Combine(folder, "report.md"), md.ToString());

        var html = new StringBuilder();
        html.AppendLine(CultureInfo.InvariantCulture, $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(name)}</title>");
        html.AppendLine("<style>body{font-family:sans-serif;max-width:760px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}</style></head><body>");
        html.AppendLine(CultureInfo.InvariantCulture, $"<h1>Run report: {WebUtility.HtmlEncode(name)}</h1><h2>Final metrics</h2><table><tr><th>metric</th><th>value</th></tr>");
        foreach (var (key, value) in finalMetrics) html.AppendLine(CultureInfo.InvariantCulture, $"<tr><td>{WebUtility.HtmlEncode(key)}</td><td>{WebUtility.HtmlEncode(Format(value))}</td></tr>");
        html.AppendLine("</table><h2>Curves</h2>").AppendLine(lossSvg).AppendLine(metricsSvg);
        html.AppendLine(CultureInfo.InvariantCulture, $"<h2>Recipe</h2><pre>{WebUtility.HtmlEncode(recipeJson)}</pre></body></html>");
        AtomicFile.WriteAllText(Path.Combine(folder, "report.html"), html.ToString());
    }

    private static List<(double X, double Y)> Points(List<(long Step, string Line, JsonObject Values)> entries, string key) =>
        entries.Where(e => e.Values[key] is JsonValue v && v.TryGetValue<double>(out _)).Select(e => ((double)e.Step, e.Values[key]!.GetValue<double>())).ToList();

    /// <summary>Trailing mean over 10 points: per-step values of one device's batch are noisy.</summary>
    private static List<(double X, double Y)> Smooth(List<(double X, double Y)> points)
    {
        var result = new List<(double, double)>(points.Count);
        for (int i = 0; i < points.Count; i++)
        {
            int from = Math.Max(0, i - 9);
            double mean = 0;
            for (int j = from; j <= i; j++) mean += points[j].Y;
            result.Add((points[i].X, mean / (i - from + 1)));
        }
        return result;
    }

    private static string Format(object value) => value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : value.ToString() ?? "";
}
