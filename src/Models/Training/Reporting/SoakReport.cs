using System.Globalization;
using System.Text;

using Tessera.Models.Plotting;

namespace Tessera.Models.Training;

/// <summary>How one resource moved after warm-up.</summary>
/// <param name="Name">The CSV column.</param>
/// <param name="Start">Mean over the first window after warm-up.</param>
/// <param name="End">Mean over the last window.</param>
/// <param name="Min">Smallest sample after warm-up.</param>
/// <param name="Max">Largest sample after warm-up.</param>
public sealed record ResourceGrowth(string Name, double Start, double End, double Min, double Max)
{
    /// <summary>(End − Start) / Start in percent (0 when Start is 0 and nothing changed).</summary>
    public double GrowthPercent => Start == 0 ? (End == 0 ? 0 : double.PositiveInfinity) : (End - Start) / Start * 100;
}

/// <summary>
/// Summarises a <see cref="ResourceSampler"/> CSV: growth of each resource from the first to the
/// last window after warm-up (means over windows, so one GC's saw-tooth does not decide it), a
/// plot of memory over time and one of open files and threads.
/// </summary>
public static class SoakReport
{
    /// <summary>Reads the samples of a resource log (header line first).</summary>
    public static List<ResourceSample> ReadCsv(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"soak-report: no resource log at '{path}' (write one with tessera train ... --resource-log PATH)", path);
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0] != ResourceSample.CsvHeader)
            throw new InvalidDataException($"soak-report: '{path}' does not start with the header '{ResourceSample.CsvHeader}'; expected a file written by --resource-log");
        // The last line may be cut by a kill: take every complete one.
        var samples = new List<ResourceSample>();
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            try
            {
                samples.Add(ResourceSample.ParseCsv(line));
            }
            catch (FormatException) when (ReferenceEquals(line, lines[^1]))
            {
            }
        }
        return samples;
    }

    /// <summary>Growth per resource after <paramref name="warmupSeconds"/>, windows of <paramref name="windowSeconds"/>.</summary>
    public static List<ResourceGrowth> Growth(IReadOnlyList<ResourceSample> samples, double warmupSeconds, double windowSeconds)
    {
        var after = samples.Where(s => s.Seconds >= warmupSeconds).ToList();
        if (after.Count < 2)
            throw new ArgumentException($"soak-report: expected at least 2 samples after the {warmupSeconds:F0} s warm-up, found {after.Count} (of {samples.Count}); run longer or pass a shorter --warmup");
        double first = after[0].Seconds, last = after[^1].Seconds;
        // Overlapping windows would compare a stretch with itself and always report 0 %.
        if (last - first < 2 * windowSeconds)
            throw new ArgumentException($"soak-report: the {(last - first) / 60:F1} min after the {warmupSeconds / 60:F0}-min warm-up are shorter than two {windowSeconds / 60:F0}-min windows; pass a shorter --window or --warmup, or run longer");
        var head = after.Where(s => s.Seconds <= first + windowSeconds).ToList();
        var tail = after.Where(s => s.Seconds >= last - windowSeconds).ToList();
        var columns = new (string Name, Func<ResourceSample, double> Get)[]
        {
            ("rss_bytes", s => s.ResidentBytes), ("gc_heap_bytes", s => s.GcHeapBytes), ("gc_committed_bytes", s => s.GcCommittedBytes),
            ("pool_bytes", s => s.PoolBytes), ("open_files", s => s.OpenFiles), ("threads", s => s.Threads),
        };
        return columns.Select(c => new ResourceGrowth(c.Name, head.Average(c.Get), tail.Average(c.Get), after.Min(c.Get), after.Max(c.Get))).ToList();
    }

    /// <summary>Writes resources.png/.svg (memory; files and threads) and soak.md into <paramref name="folder"/>; returns the markdown.</summary>
    public static string Write(string csvPath, string folder, double warmupSeconds, double windowSeconds = 300)
    {
        var samples = ReadCsv(csvPath);
        var growth = Growth(samples, warmupSeconds, windowSeconds);
        Directory.CreateDirectory(folder);
        const double MiB = 1 << 20;
        PlotSeries Series(string name, Func<ResourceSample, double> get) => new(name, samples.Select(s => (s.Seconds / 60, get(s))).ToList());
        // One figure, two panels (PNG + SVG): memory, and open files with threads.
        Figures.SaveCharts(Path.Combine(folder, "resources.svg"),
        [
            new ChartPanel("memory during the soak", "minutes", "MiB",
            [
                Series("RSS", s => s.ResidentBytes / MiB), Series("GC heap", s => s.GcHeapBytes / MiB),
                Series("GC committed", s => s.GcCommittedBytes / MiB), Series("pool (idle)", s => s.PoolBytes / MiB),
            ]),
            new ChartPanel("open files and threads during the soak", "minutes", "count", [Series("open files", s => s.OpenFiles), Series("threads", s => s.Threads)]),
        ]);

        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.Append(c, $"# Soak: {samples.Count} samples over {samples[^1].Seconds / 60:F1} min (steps {samples.Max(s => s.Step)})\n\n");
        text.Append(c, $"Growth from the first to the last {windowSeconds / 60:F0}-minute window after a {warmupSeconds / 60:F0}-minute warm-up (window means):\n\n");
        text.Append("| resource | first window | last window | growth | min | max |\n|---|---:|---:|---:|---:|---:|\n");
        foreach (var g in growth)
        {
            bool bytes = g.Name.EndsWith("_bytes", StringComparison.Ordinal);
            string Format(double v) => bytes ? (v / MiB).ToString("F1", c) + " MiB" : v.ToString("F1", c);
            text.Append(c, $"| {g.Name} | {Format(g.Start)} | {Format(g.End)} | {g.GrowthPercent:+0.0;-0.0;0.0}% | {Format(g.Min)} | {Format(g.Max)} |\n");
        }
        text.Append("\nPlots: resources.png / resources.svg (memory; open files and threads).\n");
        AtomicFile.WriteAllText(Path.Combine(folder, "soak.md"), text.ToString());
        return text.ToString();
    }
}
