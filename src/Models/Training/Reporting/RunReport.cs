using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Models.Plotting;

namespace Tessera.Models.Training;

/// <summary>
/// Writes a run's figures and report from log.jsonl and eval.jsonl: loss.png/.svg (training loss
/// per task, smoothed, with test loss where evaluated, on a log axis), metrics.png/.svg (one panel
/// per metric family, train curves per task and test points, plus the learning rate), report.md and
/// report.html (recipe, metrics table, the figures, and sample predictions when given).
/// </summary>
public static class RunReport
{
    /// <summary>The figures' file stems in the run folder.</summary>
    public const string LossFigure = "loss", MetricsFigure = "metrics";

    public static void Write(string folder, string name, string logPath, IReadOnlyDictionary<string, object> finalMetrics, string recipeJson,
                             IReadOnlyList<ReportImage>? samples = null)
    {
        ArgumentNullException.ThrowIfNull(finalMetrics);
        var entries = RunLog.Read(logPath);
        var evaluations = EvalLog.Read(Path.Combine(folder, EvalLog.FileName));
        var (lossPanels, metricPanels) = Panels(entries, evaluations);
        Figures.SaveCharts(Path.Combine(folder, LossFigure), lossPanels);
        Figures.SaveCharts(Path.Combine(folder, MetricsFigure), metricPanels);
        samples ??= [];

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Run report: {name}").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"{entries.Count} logged steps; skipped steps: {entries.Count(e => e.Values.ContainsKey("skipped"))}; evaluations: {evaluations.Count}.").AppendLine();
        md.AppendLine("## Final metrics").AppendLine().AppendLine("| metric | value |").AppendLine("|---|---|");
        foreach (var (key, value) in finalMetrics) md.AppendLine(CultureInfo.InvariantCulture, $"| {key} | {Format(value)} |");
        md.AppendLine().AppendLine("## Curves").AppendLine().AppendLine($"![loss]({LossFigure}.png)").AppendLine().AppendLine($"![metrics]({MetricsFigure}.png)").AppendLine();
        if (samples.Count > 0)
        {
            md.AppendLine("## Sample predictions").AppendLine();
            foreach (var sample in samples) md.AppendLine(CultureInfo.InvariantCulture, $"![{sample.Caption}]({sample.File})").AppendLine();
        }
        md.AppendLine("## Recipe").AppendLine().AppendLine("```json").AppendLine(recipeJson).AppendLine("```");
        AtomicFile.WriteAllText(Path.Combine(folder, "report.md"), md.ToString());
        AtomicFile.WriteAllText(Path.Combine(folder, "report.html"), Html(name, entries.Count, evaluations.Count, finalMetrics, recipeJson, samples));
    }

    private static string Html(string name, int steps, int evaluations, IReadOnlyDictionary<string, object> finalMetrics, string recipeJson, IReadOnlyList<ReportImage> samples)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder();
        html.AppendLine(CultureInfo.InvariantCulture, $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{E(name)}: Tessera run report</title>");
        html.AppendLine("<style>body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1280px;margin:1.5em auto;color:#222}" +
                        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 10px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}" +
                        "img{max-width:100%;border:1px solid #eee}figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}figcaption{font-size:90%;color:#555}" +
                        "pre{background:#f6f6f6;padding:1em;overflow:auto;max-height:30em}</style></head><body>");
        html.AppendLine(CultureInfo.InvariantCulture, $"<h1>Run report: {E(name)}</h1><p>{steps} logged steps, {evaluations} evaluation(s) on the test split.</p>");
        html.AppendLine("<h2>Final metrics</h2><table><tr><th>metric</th><th>value</th></tr>");
        foreach (var (key, value) in finalMetrics) html.AppendLine(CultureInfo.InvariantCulture, $"<tr><td>{E(key)}</td><td class=\"n\">{E(Format(value))}</td></tr>");
        html.AppendLine("</table><h2>Curves</h2>");
        html.AppendLine(CultureInfo.InvariantCulture, $"<p><img src=\"{LossFigure}.png\" alt=\"loss curves\"></p><p><img src=\"{MetricsFigure}.png\" alt=\"metric curves\"></p>");
        if (samples.Count > 0)
        {
            html.AppendLine("<h2>Sample predictions</h2>");
            foreach (var sample in samples)
                html.AppendLine(CultureInfo.InvariantCulture, $"<figure><img src=\"{E(sample.File)}\" alt=\"{E(sample.Caption)}\"><figcaption>{E(sample.Caption)}</figcaption></figure>");
        }
        html.AppendLine(CultureInfo.InvariantCulture, $"<h2>Recipe</h2><pre>{E(recipeJson)}</pre>");
        // After loading, the page records how many images loaded (data-images="loaded/total", which the browser test reads) and names any that did not.
        html.AppendLine("<p id=\"image-status\" style=\"color:#b00\"></p><script>window.addEventListener('load',function(){" +
                        "var all=Array.prototype.slice.call(document.images),bad=all.filter(function(i){return !(i.complete&&i.naturalWidth>0);});" +
                        "document.body.setAttribute('data-images',(all.length-bad.length)+'/'+all.length);" +
                        "if(bad.length)document.getElementById('image-status').textContent=bad.length+' image(s) failed to load: '+bad.map(function(i){return i.getAttribute('src');}).join(', ');});</script>");
        html.AppendLine("</body></html>");
        return html.ToString();
    }

    /// <summary>The loss panel and one panel per metric family ("top1", "map", ...), each with a train curve per task and the test points.</summary>
    internal static (List<ChartPanel> Loss, List<ChartPanel> Metrics) Panels(List<(long Step, string Line, JsonObject Values)> entries, List<(long Step, Dictionary<string, double> Values)> evaluations)
    {
        var trainKeys = entries.SelectMany(e => e.Values.Select(p => p.Key)).Where(k => k.Contains('/', StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal).ToList();
        var testKeys = evaluations.SelectMany(e => e.Values.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var tasks = trainKeys.Concat(testKeys).Select(k => k[..k.IndexOf('/', StringComparison.Ordinal)]).Distinct().Order(StringComparer.Ordinal).ToList();
        int Colour(string key) => 1 + tasks.IndexOf(key[..key.IndexOf('/', StringComparison.Ordinal)]);
        static string Family(string key) => key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..];

        var loss = new List<PlotSeries> { new("all tasks (train)", Smooth(Points(entries, "loss")), ColourIndex: 0) };
        if (tasks.Count > 1)
            loss.AddRange(trainKeys.Where(k => Family(k) == "loss").Select(k => new PlotSeries($"{k} (train)", Smooth(Points(entries, k)), ColourIndex: Colour(k))));
        loss.AddRange(testKeys.Where(k => Family(k) == "loss").Select(k => new PlotSeries($"{k} (test)", TestPoints(evaluations, k), MarkersOnly: true, ColourIndex: Colour(k))));
        var lossPanels = new List<ChartPanel> { new("Training loss (10-step mean) and test loss", "step", "loss", loss, LogY: true) };

        // Loss components (loss_classifier, ...) join the loss figure on log axes; every other family is a metric.
        var metricPanels = new List<ChartPanel>();
        foreach (var family in trainKeys.Concat(testKeys).Select(Family).Where(f => f != "loss").Distinct().Order(StringComparer.Ordinal))
        {
            var series = trainKeys.Where(k => Family(k) == family).Select(k => new PlotSeries($"{k} (train)", Smooth(Points(entries, k)), ColourIndex: Colour(k)))
                .Concat(testKeys.Where(k => Family(k) == family).Select(k => new PlotSeries($"{k} (test)", TestPoints(evaluations, k), MarkersOnly: true, ColourIndex: Colour(k))))
                .ToList();
            bool isLoss = family.StartsWith("loss", StringComparison.Ordinal);
            (isLoss ? lossPanels : metricPanels).Add(new ChartPanel(family, "step", family, series, LogY: isLoss));
        }
        var lr = Points(entries, "lr");
        if (lr.Count > 0) metricPanels.Add(new ChartPanel("learning rate", "step", "lr", [new PlotSeries("lr", lr, ColourIndex: 0)]));
        return (lossPanels, metricPanels);
    }

    private static List<(double X, double Y)> TestPoints(List<(long Step, Dictionary<string, double> Values)> evaluations, string key) =>
        evaluations.Where(e => e.Values.ContainsKey(key)).Select(e => ((double)e.Step, e.Values[key])).ToList();

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

/// <summary>An image file in the run folder shown in the report, with its caption.</summary>
public sealed record ReportImage(string File, string Caption);
