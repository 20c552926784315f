using System.Globalization;
using System.Text;
using Tessera.Models.Experiments;
using Tessera.Models.Training;
using Tessera.Models.Plotting;

namespace Tessera.Models.Systems.Intern;

/// <summary>
/// Writes the INTERN results page: Table 1's shape (CLS-AVG, DET, SEG at 10% and 100%, depth at
/// 100%) with every arm as mean ± std over seeds next to the paper's numbers, MF against a plain
/// fine-tune, each claim judged by <see cref="ClaimRule"/>, the loss curves and spike-guard
/// triggers (SVG beside the page), the scale and provenance; and the ExperimentRecord JSON.
/// </summary>
public sealed class InternPage(IReadOnlyList<InternSeedResult> results, InternSettings settings, DownstreamSettings downstream, MfSettings mf, bool quick, double minutes, string command)
{
    /// <summary>What the long scale changed (null at the default and quick scales): printed at the top of the page and kept in the record.</summary>
    public string? LongScale { get; init; }

    // Paper Table 1-3 / 6 (ResNet-50): CLS-AVG, VOC-DET, VOC-SEG at 10% | 100%; KITTI RMSE.
    private static readonly Dictionary<string, string> Paper = new()
    {
        ["Supervised (shapes-cls)"] = "62.8 / 69.5 / 58.0 \\| 73.0 / 79.5 / 66.0; KITTI 3.09 (100%)",
        ["Up-A"] = "70.9 / – / – (Table 6)",
        ["Up-E (C)"] = "73.7 / 72.2 / 57.7",
        ["Up-E (D)"] = "53.9 / 87.7 / 62.3",
        ["Up-E (S)"] = "47.5 / 75.0 / 71.9",
        ["Up-G"] = "74.3 / 87.7 / 73.7; KITTI 2.84 (10%)",
        ["Up-G w/o KTM"] = "– (no such row)",
    };

    /// <summary>The heading of the hand-written discussion that a regenerated page keeps.</summary>
    public const string DiscussionHeading = "## Discussion";

    private List<ClaimRecord>? _claims;

    /// <summary>Every judged claim (computed once).</summary>
    public IReadOnlyList<ClaimRecord> Claims => _claims ??= JudgeClaims();

    private IReadOnlyList<double> Values(string arm, Func<ArmScores, double> pick) => results.Select(r => pick(r.Arm(arm))).ToArray();

    /// <summary>Up-E as one row: each expert on its own task type (the paper's reading of "Up-E").</summary>
    private IReadOnlyList<double> ExpertAverage(bool ten) => results.Select(r =>
    {
        DownstreamScores S(string arm) => ten ? r.Arm(arm).TenPercent : r.Arm(arm).Full;
        return (S("Up-E (C)").ClassificationAverage + S("Up-E (D)").DetectionAp50 + S("Up-E (S)").SegmentationMiou) / 3;
    }).ToArray();

    private static string Ms(IReadOnlyList<double> values, string format = "0.0") => ClaimRule.FormatMeanStd(values, format);

    /// <summary>Test images behind a CLS average: each suite scores at most its test split.</summary>
    private int ClsTest => downstream.ProbeSuites.Sum(suite => Math.Min(downstream.ProbeTest,
        Data.World.WorldGenerator.SplitLength(Data.World.WorldSources.Get(suite), "test", Recipes.WorldTaskSource.WorldSeed) ?? downstream.ProbeTest));

    private List<ClaimRecord> JudgeClaims()
    {
        var claims = new List<ClaimRecord>();
        void Add(string claim, string paper, IReadOnlyList<double> better, IReadOnlyList<double> other, string oursText, bool lowerIsBetter = false, double? fallback = null, string? basis = null, string? why = null)
        {
            var judgement = ClaimRule.Better(better, other, lowerIsBetter, fallback, basis);
            claims.Add(ClaimRecord.From("intern", claim, paper, oursText, judgement, command, why ?? Why(judgement)));
        }
        var upA = Values("Up-A", a => a.TenPercent.Average);
        var upE = ExpertAverage(true);
        var upG = Values("Up-G", a => a.TenPercent.Average);
        var hard = Values("Up-G w/o KTM", a => a.TenPercent.Average);
        Add("Up-E beats Up-A on the average of CLS, DET and SEG (10% data)", "Table 6: CLS-AVG 73.7 vs 70.9", upE, upA, $"{Ms(upE)} vs {Ms(upA)}");
        Add("Up-G beats Up-E on the average of CLS, DET and SEG (10% data)", "Table 6: CLS-AVG 74.3 vs 73.7", upG, upE, $"{Ms(upG)} vs {Ms(upE)}");
        foreach (var (expert, label, pick, paper) in new (string, string, Func<DownstreamScores, double>, string)[]
        {
            ("Up-E (C)", "CLS-AVG", s => s.ClassificationAverage, "Table 3: 74.3 vs 73.7"),
            ("Up-E (D)", "DET AP50", s => s.DetectionAp50, "Table 3: 87.7 vs 87.7"),
            ("Up-E (S)", "SEG mIoU", s => s.SegmentationMiou, "Table 3: 73.7 vs 71.9"),
        })
        {
            var g = Values("Up-G", a => pick(a.TenPercent));
            var e = Values(expert, a => pick(a.TenPercent));
            double? fallback = label == "CLS-AVG" ? ClaimRule.BinomialStandardError(g.Average(), e.Average(), ClsTest) : null;
            Add($"Up-G matches or beats {expert} on its own task type ({label}, 10%; a tie is a match)", paper, g, e, $"{Ms(g)} vs {Ms(e)}",
                fallback: fallback, basis: fallback is null ? null : "binomial SE of the pooled probe test images (one seed)");
        }
        var depthG = Values("Up-G", a => a.Full.DepthRmse);
        var depthBest = results.Select(r => new[] { "Up-E (C)", "Up-E (D)", "Up-E (S)" }.Min(e => r.Arm(e).Full.DepthRmse)).ToArray();
        Add("Up-G beats every expert on an unseen dense task (down-depth RMSE, lower is better; against the best expert per seed)", "Table 4: KITTI 2.84, better than any expert", depthG, depthBest,
            $"{Ms(depthG, "0.000")} vs {Ms(depthBest, "0.000")}", lowerIsBetter: true);
        Add("KTMs beat hard sharing alone (Up-G vs Up-G w/o KTM, average of CLS, DET and SEG, 10%)", "Sec. 4 (soft sharing > hard sharing)", upG, hard, $"{Ms(upG)} vs {Ms(hard)}");
        var g10 = Values("Up-G", a => a.TenPercent.ClassificationAverage);
        var s100 = Values("Supervised (shapes-cls)", a => a.Full.ClassificationAverage);
        Add("Up-G with 10% data beats the supervised backbone with 100% (CLS-AVG)", "Table 1: 74.3 vs 73.0", g10, s100, $"{Ms(g10)} vs {Ms(s100)}",
            fallback: ClaimRule.BinomialStandardError(g10.Average(), s100.Average(), ClsTest), basis: "binomial SE of the pooled probe test images (one seed)");
        var mfValues = results.Select(r => r.MfAccuracy.Values.Average()).ToArray();
        var plain = results.Select(r => r.PlainAccuracy.Values.Average()).ToArray();
        Add("MF beats a plain fine-tune at 10% (mean test accuracy over the classification suites, Up-G backbone)", "Table 24: +4.2 average accuracy", mfValues, plain, $"{Ms(mfValues)} vs {Ms(plain)}",
            fallback: ClaimRule.BinomialStandardError(mfValues.Average(), plain.Average(), ClsTest), basis: "binomial SE of the pooled test images (one seed)");
        return claims;
    }

    private static string? Why(ClaimJudgement judgement) => judgement.Verdict switch
    {
        ClaimVerdict.Holds => null,
        ClaimVerdict.Tie => "the gap is within two standard errors; see the discussion on the page",
        _ => "the opposite ordering exceeds two standard errors; see the discussion on the page",
    };

    public void Write(string path)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        string stem = Path.GetFileNameWithoutExtension(path);
        var provenance = RunProvenance.Capture();
        WritePlots(folder, stem);
        var t = new StringBuilder();
        t.AppendLine("# INTERN at reduced scale (paper 000)");
        t.AppendLine();
        if (quick) t.AppendLine("**Quick (smoke-test) scale: the numbers below only show that every arm runs; they are not the reported result.**\n");
        if (LongScale is not null) t.AppendLine($"**Long scale (`--long`)**, the heavier documented setting that tries to separate the default scale's ties: {LongScale} The ledger ([../README.md](../README.md)) sets these verdicts beside the default's.\n");
        t.AppendLine(Inv($"Command: `{command}` — seeds {string.Join(", ", results.Select(r => r.Seed))}; {minutes:F1} min wall time; {provenance}."));
        t.AppendLine();
        var armMinutes = ArmMinutes();
        t.AppendLine("Wall time per arm (all seeds, training + Down-A): " + string.Join(", ", armMinutes.Select(kv => Inv($"{kv.Key} {kv.Value:F1} min"))) + ".");
        t.AppendLine();
        var b = settings.Backbone;
        t.AppendLine(Inv($"Scale: images {settings.Size} px. MetaNet-lite: stem {b.StemChannels}, stages {string.Join(" / ", b.Stages.Select(s => $"{(s.Kind == GopKind.Conv ? "conv" : s.Window > 0 ? $"transformer (window {s.Window})" : "transformer (global)")} {s.Channels}"))}, expansion {b.Expansion} ({new MetaNet(b, new Tessera.Engine.Random.Generator(0)).ParameterCount():N0} parameters); ")
            + Inv($"Up-A-G {settings.UpASteps} steps of {settings.Batch} image-caption pairs (text tower width {settings.TextWidth}, depth 2, context {settings.ContextLength}; queue {settings.QueueSize}; spike ratio {settings.SpikeRatio}); Up-A-L {settings.UpALSteps} steps; ")
            + Inv($"each expert {settings.ExpertSteps} SIMT steps on {settings.Devices} virtual devices ({settings.Batch} images, {settings.DetectionBatch} for detection), Up-G (with / without KTMs) {settings.GeneralistSteps} steps; supervised baseline {settings.UpASteps} steps of shapes-cls; AdamW lr {settings.LearningRate}, warm-up + cosine."));
        t.AppendLine(Inv($"Down-A (backbone frozen): linear probe (L-BFGS ≤ {downstream.ProbeIterations} iterations, L2 sweep) on {string.Join(", ", downstream.ProbeSuites)} (up to {downstream.ProbeTest} test images each{(downstream.ProbeTrainCap is int cap ? $", at most {cap} training images at 100%" : "")}); ")
            + Inv($"head-only training {downstream.HeadSteps} steps of {downstream.HeadBatch} images on down-det (Faster R-CNN-lite, AP50), down-seg (FPN head, mIoU) and down-depth (RMSE, 100% only), {downstream.DenseTest} test images each. ")
            + Inv($"MF: VQ-GAN-lite {mf.VqSteps} steps, head {mf.HeadSteps} steps on reconstructions, fine-tune {mf.FineTuneSteps} steps (+ {mf.MocoWeight} x MoCo); the plain fine-tune has the same steps on originals without MoCo."));
        t.AppendLine();
        t.AppendLine("## Table 1 shape — Down-A (ours: mean ± std over seeds, %; paper: ResNet-50)");
        t.AppendLine();
        t.AppendLine("| pre-training | CLS-AVG 10% | CLS-AVG 100% | DET AP50 10% | DET AP50 100% | SEG mIoU 10% | SEG mIoU 100% | depth RMSE 100% ↓ | paper CLS / DET / SEG (10% \\| 100%) |");
        t.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var arm in InternArms.ArmNames)
            t.AppendLine($"| {arm} | {Ms(Values(arm, a => a.TenPercent.ClassificationAverage))} | {Ms(Values(arm, a => a.Full.ClassificationAverage))} | {Ms(Values(arm, a => a.TenPercent.DetectionAp50))} | {Ms(Values(arm, a => a.Full.DetectionAp50))} | {Ms(Values(arm, a => a.TenPercent.SegmentationMiou))} | {Ms(Values(arm, a => a.Full.SegmentationMiou))} | {Ms(Values(arm, a => a.Full.DepthRmse), "0.000")} | {Paper[arm]} |");
        t.AppendLine();
        t.AppendLine("Average of CLS, DET and SEG at 10% (the claims' \"average\"): " + string.Join("; ", InternArms.ArmNames.Select(a => $"{a} {Ms(Values(a, s => s.TenPercent.Average))}"))
            + $"; Up-E (each expert on its own task type) {Ms(ExpertAverage(true))}.");
        t.AppendLine();
        t.AppendLine("Per suite at 10% (probe accuracy, %): " + string.Join("; ", InternArms.ArmNames.Select(a => $"{a}: " + string.Join(", ", downstream.ProbeSuites.Select(s => $"{s} {Ms(Values(a, x => x.TenPercent.Probe[s]))}")))) + ".");
        t.AppendLine();
        t.AppendLine("## Multi-stage fine-tuning (10% data, Up-G backbone; test accuracy %)");
        t.AppendLine();
        t.AppendLine("| suite | MF | plain fine-tune |");
        t.AppendLine("|---|---|---|");
        foreach (var suite in downstream.ProbeSuites)
            t.AppendLine($"| {suite} | {Ms(results.Select(r => r.MfAccuracy[suite]).ToArray())} | {Ms(results.Select(r => r.PlainAccuracy[suite]).ToArray())} |");
        t.AppendLine();
        t.AppendLine("## Claims (ClaimRule: holds where the gap exceeds 2 SE of the paired per-seed differences)");
        t.AppendLine();
        foreach (var claim in Claims)
            t.AppendLine(Inv($"- {claim.Claim}: **{ClaimRule.Label(claim.Verdict)}** — ours {claim.Ours}; gap {claim.Gap:+0.00;-0.00;0.00} ± {claim.StandardError:0.00} SE ({claim.ErrorBasis}); paper: {claim.Paper}."));
        t.AppendLine();
        t.AppendLine("## Loss curves and the spike guard");
        t.AppendLine();
        t.AppendLine($"![upstream losses]({stem}-upstream.svg)");
        t.AppendLine();
        t.AppendLine($"![Up-A-G loss and spike triggers]({stem}-upa.svg)");
        t.AppendLine();
        int triggers = results.Sum(r => r.Spikes.Count);
        t.AppendLine(triggers == 0
            ? "Loss-spike guard: no trigger in any seed (threshold = spike ratio x EMA of accepted losses)."
            : "Loss-spike guard triggers: " + string.Join("; ", results.SelectMany(r => r.Spikes.Select(s => Inv($"seed {r.Seed} step {s.Step}: loss {s.Loss:F3} > {s.Threshold:F3}, weights of step {s.RestoredStep} restored")))) + ".");
        t.AppendLine(Inv($"Learned temperature at the end of Up-A-G: {Ms(results.Select(r => r.FinalTemperature).ToArray(), "0.000")} (start 0.07)."));
        t.AppendLine();
        t.AppendLine(InternNotes.Text);
        // A hand-written reading of the numbers survives regeneration (quick runs write elsewhere).
        if (!quick && File.Exists(path))
        {
            string previous = File.ReadAllText(path);
            int discussion = previous.IndexOf(DiscussionHeading, StringComparison.Ordinal);
            if (discussion >= 0) t.AppendLine().Append(previous[discussion..].TrimEnd()).AppendLine();
        }
        AtomicFile.WriteAllText(path, t.ToString());
        var record = new ExperimentRecord("intern", command, provenance.Commit, provenance.Date, provenance.Machine, provenance.Cores, results.Count, Math.Round(minutes, 2),
            armMinutes, Claims, quick) { LongScale = LongScale };
        record.Write(ExperimentRecord.PathFor(path));
    }

    private Dictionary<string, double> ArmMinutes()
    {
        var minutesByArm = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var r in results)
            foreach (var (arm, s) in r.Seconds) minutesByArm[arm] = Math.Round(minutesByArm.GetValueOrDefault(arm) + s / 60, 2);
        return minutesByArm;
    }

    private void WritePlots(string folder, string stem)
    {
        var first = results[0];
        var stages = first.Curves.Where(kv => kv.Key != "Up-A-G").Select(kv => new PlotSeries(kv.Key, Smooth(kv.Value))).ToList();
        Figures.SaveCharts(Path.Combine(folder, $"{stem}-upstream.svg"), [new ChartPanel($"INTERN stage losses (seed {first.Seed}, moving average of 5)", "step within the stage", "loss", stages, LogY: true)]);
        var upA = results.Select(r => new PlotSeries($"Up-A-G seed {r.Seed}", Smooth(r.Curves["Up-A-G"]))).ToList();
        foreach (var r in results.Where(r => r.Spikes.Count > 0))
            upA.Add(new PlotSeries($"spike triggers seed {r.Seed}", r.Spikes.Select(s => ((double)s.Step, s.Loss)).ToList(), MarkersOnly: true));
        Figures.SaveCharts(Path.Combine(folder, $"{stem}-upa.svg"), [new ChartPanel("Up-A-G loss (0.5 ICS + 0.5 STS) and spike-guard triggers", "step", "loss", upA, LogY: true)]);
    }

    private static List<(double X, double Y)> Smooth(IReadOnlyList<LossPoint> points)
    {
        var result = new List<(double, double)>(points.Count);
        for (int i = 0; i < points.Count; i++)
        {
            int from = Math.Max(0, i - 4);
            double sum = 0;
            for (int j = from; j <= i; j++) sum += points[j].Loss;
            result.Add((points[i].Step, sum / (i - from + 1)));
        }
        return result;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
