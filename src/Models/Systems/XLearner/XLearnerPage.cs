using System.Globalization;
using System.Text;
using Tessera.Models.Experiments;
using Tessera.Models.Training;
using Tessera.Models.Plotting;

namespace Tessera.Models.Systems.XLearner;

/// <summary>
/// Writes the X-Learner results page: our tables (means over seeds, ± the spread when there are
/// several) next to the paper's Tables 2, 3, 5 and 6, the scale, the seeds, provenance and the
/// run time per arm, loss curves (SVG beside the page), and the paper's claims judged by
/// <see cref="ClaimRule"/> (<see cref="XLearnerClaims"/>); the <see cref="ExperimentRecord"/> beside
/// the page feeds the results ledger.
/// </summary>
public sealed class XLearnerPage(IReadOnlyList<XLearnerSeedResult> results, XLearnerSettings settings, DownstreamSettings downstream, int batch, int detectionBatch, bool quick, double minutes,
    RunProvenance provenance, IReadOnlyList<string> trainedAt)
{
    /// <summary>The command that reproduces this page.</summary>
    public string Command => $"dotnet run --project src/Cli -c Release -- experiment xlearner{(quick ? " --quick" : LongScale is not null ? " --long" : "")}{(results.Count != XLearnerExperiment.DefaultSeeds ? $" --seeds {results.Count}" : "")}";

    /// <summary>For a <c>--long</c> run: what the long scale changes (<see cref="XLearnerExperiment.LongScale"/>); null at the default scale. The page and the record state it.</summary>
    public string? LongScale { get; init; }

    /// <summary>Every claim judged by <see cref="ClaimRule"/>.</summary>
    public IReadOnlyList<ClaimRecord> Claims => _claims ??= XLearnerClaims.Judge(results, settings, downstream, Command);

    private IReadOnlyList<ClaimRecord>? _claims;

    /// <summary>The record beside the page: provenance, mean wall minutes per arm over seeds, every claim.</summary>
    public ExperimentRecord Record() => new(XLearnerClaims.System, Command, provenance.Commit, provenance.Date, provenance.Machine, provenance.Cores,
        results.Count, Math.Round(minutes, 2),
        results[0].Base.Concat(results[0].Extended).Select(a => a.Arm).ToDictionary(arm => arm, arm => Math.Round(results.Average(r => r.Base.Concat(r.Extended).First(a => a.Arm == arm).Seconds) / 60, 2)),
        Claims, quick) { LongScale = LongScale };

    /// <summary>The heading of the hand-written discussion that a regenerated page keeps.</summary>
    public const string DiscussionHeading = "## Discussion";

    private static readonly (string Key, string Label)[] BaseUpstream =
    [
        ("shapes-cls/top1", "shapes-cls (ImageNet)"), ("fine-cls/top1", "fine-cls (iNat)"), ("scenes-cls/top1", "scenes-cls (Places)"), ("objects-det/mAP", "objects-det mAP (COCO)"),
    ];

    // Paper Table 6 (upstream ImageNet, iNat2021, Places, COCO, Objects365; transfer AVG Cls, PASCAL Det).
    private static readonly Dictionary<string, string> PaperTable6 = new()
    {
        ["Hard-sharing"] = "75.0 / 75.3 / 53.0 / 35.5 (O365 17.4) | 73.2 | 83.7",
        ["X-Learner"] = "77.3 / 79.7 / 54.4 / 39.9 (O365 22.2) | 77.1 | 84.4",
        ["X-Learner_r"] = "73.9 / 76.6 / 52.5 / 41.1 (O365 21.7) | 73.9 | 84.1",
        ["X-Learner_t"] = "76.3 / 79.9 / 53.3 / 42.5 (O365 22.0) | 74.5 | 83.5",
        ["X-Learner_p"] = "76.1 / 78.6 / 53.5 / 42.4 (O365 23.4) | 77.2 | 83.1",
        ["X-Learner w/o Rec"] = "(Table 5) – | 74.8 | 83.9",
        ["Single-source (shapes-cls)"] = "(Table 2, ImageNet supervised) – | 74.4 | 81.5",
    };

    public void Write(string path)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        var plots = WritePlots(folder, Path.GetFileNameWithoutExtension(path));
        var text = new StringBuilder();
        var seeds = string.Join(", ", results.Select(r => r.Seed));
        text.AppendLine("# X-Learner at reduced scale (paper 004)");
        text.AppendLine();
        text.AppendLine(quick ? "**Quick (smoke-test) scale: the numbers below only show that every arm runs; they are not the reported result.**\n" : "");
        if (LongScale is not null) text.AppendLine($"**Long scale (`--long`)**, the heavier documented setting that tries to separate the default scale's ties: {LongScale} The ledger ([../README.md](../README.md)) sets these verdicts beside the default's.\n");
        text.AppendLine(Inv($"Command: `{Command}`  "));
        text.AppendLine(Inv($"Measured at {provenance} (a machine shared with other jobs). Seeds {seeds}; cells are mean ± sample std over seeds. Total wall time {minutes:F1} min; per arm in the last section."));
        if (trainedAt.Any(t => t.Contains("reused", StringComparison.Ordinal)))
            text.AppendLine().AppendLine("Seeds reused from an earlier run (`--reuse-seeds`, same settings): " + string.Join("; ", trainedAt) + ".");
        text.AppendLine();
        text.AppendLine(Inv($"Scale: images {settings.Size} px; sub-backbone = student = narrow ResNet (basic blocks, BatchNorm, stem {settings.Width}, stages {settings.Width}/{2 * settings.Width}/{4 * settings.Width}, depth {settings.Depth}); expansion K = {settings.ExpansionSteps} steps with tau = {settings.Tau} alone; squeeze {settings.SqueezeSteps} steps (hints at levels {string.Join(",", settings.HintLevels)}); hard sharing {settings.ExpansionSteps} steps; each step sees one batch of every source ({batch} images, {detectionBatch} for detection); AdamW lr {settings.LearningRate}, wd {settings.WeightDecay}, warm-up + cosine per stage."));
        text.AppendLine(Inv($"Downstream: linear probe (L-BFGS, ≤ {downstream.ProbeIterations} iterations, L2 swept 1e-5..1e-1 on a 20% hold-out) of pooled last-stage features, {Downstream.DescribeImages(downstream, "train")} train / {Downstream.DescribeImages(downstream, "test")} test images of {string.Join(", ", downstream.ProbeSuites)}; detection: Faster R-CNN-lite fine-tuned {downstream.DetectionSteps} steps (batch {downstream.DetectionBatch}) on down-det, mAP/AP50 on {downstream.DetectionTest} test images. All numbers in %."));
        text.AppendLine();
        text.AppendLine("Sources (procedural world): base = classification {shapes-cls, fine-cls, scenes-cls} + detection {objects-det}; extended (+OOD) adds tags (noisy multi-label, dark/blurred; classification group) and dense-det (tiny blurred objects; detection group). Objective (1/N) Σ over the N sources, one head per source.");
        text.AppendLine();

        text.AppendLine("## Table 2 / 5 — transfer (ours | paper)");
        text.AppendLine();
        text.AppendLine("| method | AVG Cls | " + string.Join(" | ", downstream.ProbeSuites) + " | down-det AP50 | down-det mAP | backbone params | paper AVG Cls | paper PASCAL Det |");
        text.AppendLine("|---|---|" + string.Concat(downstream.ProbeSuites.Select(_ => "---|")) + "---|---|---|---|---|");
        foreach (var arm in ArmNames(r => r.Base))
        {
            var paper = arm switch
            {
                "Single-source (shapes-cls)" => ("74.4", "81.5"),
                "Hard-sharing" => ("73.2", "83.7"),
                "X-Learner" => ("77.1", "84.4"),
                "X-Learner w/o Rec" => ("74.8", "83.9"),
                "X-Learner_r" => ("73.9", "84.1"),
                "X-Learner_t" => ("74.5", "83.5"),
                "X-Learner_p" => ("77.2", "83.1"),
                _ => ("–", "–"),
            };
            text.AppendLine($"| {arm} | {Cell(r => Find(r.Base, arm).Downstream.AverageClassification)} | "
                + string.Join(" | ", downstream.ProbeSuites.Select(s => Cell(r => Find(r.Base, arm).Downstream.ProbeAccuracy[s])))
                + $" | {Cell(r => Find(r.Base, arm).Downstream.DetectionAp50)} | {Cell(r => Find(r.Base, arm).Downstream.DetectionMap)} | {Find(results[0].Base, arm).Parameters.ToString("N0", CultureInfo.InvariantCulture)} | {paper.Item1} | {paper.Item2} |");
        }
        text.AppendLine();

        text.AppendLine("## Table 6 — upstream (pre-training sources, test split) and transfer (ours | paper)");
        text.AppendLine();
        text.AppendLine("| method | " + string.Join(" | ", BaseUpstream.Select(u => u.Label)) + " | AVG Cls | down-det AP50 | paper: IN / iNat / Places / COCO (O365) \\| AVG Cls \\| PASCAL Det |");
        text.AppendLine("|---|" + string.Concat(BaseUpstream.Select(_ => "---|")) + "---|---|---|");
        text.AppendLine($"| X-Learner, expanded (before squeeze) | {string.Join(" | ", BaseUpstream.Select(u => Cell(r => 100 * r.TeacherUpstream[u.Key])))} | – | – | {results[0].TeacherParameters.ToString("N0", CultureInfo.InvariantCulture)} backbone params |");
        foreach (var arm in ArmNames(r => r.Base))
            text.AppendLine($"| {arm} | {string.Join(" | ", BaseUpstream.Select(u => Upstream(r => Find(r.Base, arm), u.Key)))} | {Cell(r => Find(r.Base, arm).Downstream.AverageClassification)} | {Cell(r => Find(r.Base, arm).Downstream.DetectionAp50)} | {PaperTable6.GetValueOrDefault(arm, "–").Replace("|", "\\|", StringComparison.Ordinal)} |");
        text.AppendLine();
        text.AppendLine("Upstream of a squeezed student is measured through its guidance layers G^t and the expanded teacher's heads (what the squeeze kept of F^t); X-Learner_r and X-Learner_p keep an expanded network with its own heads.");
        text.AppendLine();

        text.AppendLine("## Table 3 — adding out-of-domain sources (ours | paper)");
        text.AppendLine();
        text.AppendLine("| setting | method | " + string.Join(" | ", BaseUpstream.Select(u => u.Label)) + " | mean of base upstream | tags mAP | dense-det mAP | AVG Cls | down-det AP50 |");
        text.AppendLine("|---|---|" + string.Concat(BaseUpstream.Select(_ => "---|")) + "---|---|---|---|---|");
        foreach (var (setting, arm, select) in new (string, string, Func<XLearnerSeedResult, ArmResult>)[]
        {
            ("base", "Hard-sharing", r => Find(r.Base, "Hard-sharing")), ("base", "X-Learner", r => Find(r.Base, "X-Learner")),
            ("+OOD", "Hard-sharing", r => Find(r.Extended, "Hard-sharing (+OOD)")), ("+OOD", "X-Learner", r => Find(r.Extended, "X-Learner (+OOD)")),
        })
        {
            string Extra(string key) => Upstream(select, key);
            text.AppendLine($"| {setting} | {arm} | {string.Join(" | ", BaseUpstream.Select(u => Upstream(select, u.Key)))} | {Cell(r => BaseMean(select(r)))} | {Extra("tags/mAP")} | {Extra("dense-det/mAP")} | {Cell(r => select(r).Downstream.AverageClassification)} | {Cell(r => select(r).Downstream.DetectionAp50)} |");
        }
        text.AppendLine();
        double hsDrop = results.Average(r => BaseMean(Find(r.Extended, "Hard-sharing (+OOD)")) - BaseMean(Find(r.Base, "Hard-sharing")));
        double xlDrop = results.Average(r => BaseMean(Find(r.Extended, "X-Learner (+OOD)")) - BaseMean(Find(r.Base, "X-Learner")));
        text.AppendLine(Inv($"Change of the mean base-source upstream score when the out-of-domain sources are added: hard sharing {hsDrop:+0.0;-0.0}, X-Learner {xlDrop:+0.0;-0.0} (paper, mean of its five base sources: hard sharing −1.1, X-Learner −0.2; paper rows: base HS 75.0/75.3/53.0/35.5/17.4, base X-L 77.3/79.7/54.4/39.9/22.2, +Cls&Det HS 73.6/73.6/52.0/34.9/16.5, +Cls&Det X-L 76.9/78.6/54.6/40.1/22.1)."));
        text.AppendLine();

        text.AppendLine("## The paper's claims at our scale");
        text.AppendLine();
        text.AppendLine(Inv($"Each claim is judged by the shared rule ([how a verdict is reached](README.md#{ResultsLedger.RuleAnchor})): it holds where the gap (positive = the paper's direction) exceeds 2 standard errors, does not hold below −2, and is a tie in between. All five systems' claims are in the [ledger](README.md)."));
        text.AppendLine();
        foreach (var c in Claims) text.AppendLine(c.ToMarkdown(results.Count));
        text.AppendLine();
        text.AppendLine("## Plots");
        text.AppendLine();
        foreach (var plot in plots) text.AppendLine($"![{plot}]({plot})");
        text.AppendLine();
        text.AppendLine("## Wall time per arm (seconds per seed, mean ± std over seeds; including its downstream evaluation; the shared alone phase is counted in every X-Learner arm)");
        text.AppendLine();
        text.AppendLine("| arm | seconds |");
        text.AppendLine("|---|---|");
        foreach (var arm in results[0].Base.Concat(results[0].Extended).Select(a => a.Arm))
            text.AppendLine($"| {arm} | {ClaimRule.FormatMeanStd(results.Select(r => r.Base.Concat(r.Extended).First(a => a.Arm == arm).Seconds).ToArray(), "0")} |");
        text.AppendLine();
        text.AppendLine(XLearnerNotes.Text);
        // A discussion written by hand under the generated tables survives regeneration.
        if (File.Exists(path))
        {
            string previous = File.ReadAllText(path);
            int discussion = previous.IndexOf(DiscussionHeading, StringComparison.Ordinal);
            if (discussion >= 0)
                text.AppendLine().Append(previous[discussion..].TrimEnd()).AppendLine();
        }
        AtomicFile.WriteAllText(path, text.ToString());
        Record().Write(ExperimentRecord.PathFor(path));
    }

    private List<string> WritePlots(string folder, string stem)
    {
        var plots = new List<string>();
        var first = results[0];
        var training = new List<PlotSeries>
        {
            Series("Hard-sharing", Find(first.Base, "Hard-sharing").Curves["train"]),
            Series("X-Learner (alone, then joint)", Find(first.Base, "X-Learner").Curves["alone"].Concat(Find(first.Base, "X-Learner").Curves["joint"])),
            Series("w/o Rec (joint phase)", Find(first.Base, "X-Learner w/o Rec").Curves["joint"]),
            Series("X-Learner_t (joint phase)", Find(first.Base, "X-Learner_t").Curves["joint"]),
        };
        plots.Add(Save(folder, $"{stem}-pretraining.svg", new ChartPanel($"Pre-training objective (1/N) Σ source losses, seed {first.Seed}", "step", "loss", training, LogY: true)));
        var squeeze = new List<PlotSeries>
        {
            Series("X-Learner", Find(first.Base, "X-Learner").Curves["squeeze"]),
            Series("w/o Rec", Find(first.Base, "X-Learner w/o Rec").Curves["squeeze"]),
            Series("X-Learner_t", Find(first.Base, "X-Learner_t").Curves["squeeze"]),
        };
        plots.Add(Save(folder, $"{stem}-squeeze.svg", new ChartPanel($"Squeeze: multi-hint distillation loss, seed {first.Seed}", "step", "loss", squeeze, LogY: true)));
        return plots;
    }

    private static PlotSeries Series(string name, IEnumerable<CurvePoint> curve)
    {
        // A 10-step moving average: single steps are noisy.
        var points = curve.ToList();
        var smoothed = points.Select((p, i) => ((double)p.Step, points.Skip(Math.Max(0, i - 9)).Take(Math.Min(10, i + 1)).Average(q => q.Loss))).ToList();
        return new PlotSeries(name, smoothed);
    }

    /// <summary>Writes the panel as NAME (SVG, which the page links) and a PNG beside it.</summary>
    private static string Save(string folder, string name, ChartPanel panel)
    {
        Figures.SaveCharts(Path.Combine(folder, name), [panel]);
        return name;
    }

    private IEnumerable<string> ArmNames(Func<XLearnerSeedResult, IReadOnlyList<ArmResult>> rows) => rows(results[0]).Select(a => a.Arm);

    private static ArmResult Find(IReadOnlyList<ArmResult> rows, string arm) => XLearnerClaims.Find(rows, arm);

    private static double BaseMean(ArmResult arm) => XLearnerClaims.BaseMean(arm);

    /// <summary>An upstream metric in %, or "–" for an arm that did not train that source.</summary>
    private string Upstream(Func<XLearnerSeedResult, ArmResult> arm, string key) =>
        results.All(r => arm(r).Upstream.ContainsKey(key)) ? Cell(r => 100 * arm(r).Upstream[key]) : "–";

    private string Cell(Func<XLearnerSeedResult, double> value)
    {
        var values = results.Select(value).ToArray();
        double mean = values.Average();
        if (values.Length == 1) return Inv($"{mean:F1}");
        double spread = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
        return Inv($"{mean:F1} ± {spread:F1}");
    }

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
