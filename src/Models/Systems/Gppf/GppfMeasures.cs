using System.Globalization;
using Tessera.Models.Experiments;

namespace Tessera.Models.Systems.Gppf;

/// <summary>
/// Per-seed numbers of the GPPF experiment (index i = seed i), from which the page's means ± std
/// and the claims' paired gaps are computed: each seed's arms share data order and seed, so a
/// gap between two arms is taken within a seed first (<see cref="ClaimRule.Better"/>).
/// </summary>
public sealed class GppfMeasures(IReadOnlyList<GppfSeedResult> seeds)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public IReadOnlyList<GppfSeedResult> Seeds => seeds;

    /// <summary>An arm's metrics in one seed.</summary>
    public delegate IReadOnlyDictionary<string, double> Arm(GppfSeedResult seed);

    /// <summary>The task's reported metric for an arm, per seed (percent for accuracy-like metrics, AbsRel as is; NaN where missing).</summary>
    public double[] PerSeed(Arm arm, GppfTask task) => seeds.Select(s =>
    {
        double v = arm(s).TryGetValue($"{task.Name}/{task.Metric}", out var x) ? x : double.NaN;
        return task.LowerIsBetter ? v : 100 * v;
    }).ToArray();

    /// <summary>Mean over seeds of <see cref="PerSeed"/>.</summary>
    public double Mean(Arm arm, GppfTask task) => PerSeed(arm, task).Average();

    /// <summary>
    /// Per seed, the average over tasks of the gain over that seed's single-task training, in points
    /// (AbsRel gains as −100·Δ so that positive is better everywhere).
    /// </summary>
    public double[] Gain(Arm arm) => seeds.Select((s, i) => GppfExperiment.Tasks.Average(t =>
    {
        double ours = PerSeed(arm, t)[i], single = PerSeed(x => x.SingleMetrics(), t)[i];
        return t.LowerIsBetter ? -100 * (ours - single) : ours - single;
    })).ToArray();

    /// <summary>"12.3 ± 0.4" (F1) or "0.560 ± 0.012" (F3 for lower-is-better metrics), "-" where a seed lacks the metric.</summary>
    public string Cell(Arm arm, GppfTask task)
    {
        var values = PerSeed(arm, task);
        return values.Any(double.IsNaN) ? "-" : ClaimRule.FormatMeanStd(values, task.LowerIsBetter ? "0.000" : "0.0");
    }

    /// <summary>Mean ± std of per-seed values with an explicit sign ("+1.2 ± 0.8").</summary>
    public static string Signed(IReadOnlyList<double> values)
    {
        var (mean, std) = ClaimRule.MeanStd(values);
        string m = mean.ToString("+0.0;-0.0", Inv);
        return values.Count < 2 ? m : $"{m} ± {std.ToString("0.0", Inv)}";
    }

    /// <summary>Mean over tasks and lego layers of the largest routing probability (how one-hot the routes are), per seed.</summary>
    public double[] MeanMaxProbability(Func<GppfSeedResult, ArmResult> arm) =>
        seeds.Select(s => GppfExperiment.Tasks.Average(t => arm(s).Probabilities[t.Name].Average(p => p.Max()))).ToArray();

    /// <summary>Per seed, the fraction of tasks whose N=2 route starts with the most common stem unit (1 = all share it).</summary>
    public double[] StemShare() => seeds.Select(s =>
    {
        var stems = GppfExperiment.Tasks.Select(t => s.DyNet2.Routes[t.Name][0]).ToList();
        return stems.GroupBy(u => u).Max(g => g.Count()) / (double)stems.Count;
    }).ToArray();

    /// <summary>
    /// Expected <see cref="StemShare"/> if each task picked one of <paramref name="units"/> stem units
    /// uniformly and independently: E[max count]/T over the multinomial, by enumeration.
    /// </summary>
    public static double ChanceStemShare(int tasks, int units)
    {
        double total = 0;
        int outcomes = (int)Math.Pow(units, tasks);
        for (int code = 0; code < outcomes; code++)
        {
            var counts = new int[units];
            for (int t = 0, c = code; t < tasks; t++, c /= units) counts[c % units]++;
            total += counts.Max();
        }
        return total / outcomes / tasks;
    }

    /// <summary>Whether every seed's extracted paths give metrics identical (==) to argmax routing.</summary>
    public bool ExtractionIdentical() => seeds.All(s => s.Extracted.All(kv => s.DyNet2.Metrics.TryGetValue(kv.Key, out var v) && v.Equals(kv.Value)));
}
