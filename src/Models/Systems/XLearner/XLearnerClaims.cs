using Tessera.Models.Experiments;

namespace Tessera.Models.Systems.XLearner;

/// <summary>
/// X-Learner's claims judged by <see cref="ClaimRule"/>, paired by seed. With one seed, the
/// AVG Cls claims fall back to the binomial error of the probe accuracies (every suite has its own
/// test split: the error of the three-suite average combines them); detection and upstream claims
/// have no single-seed error and are ties. "Why" is our reading where a claim is not reproduced.
/// </summary>
public static class XLearnerClaims
{
    public const string System = "xlearner";

    /// <summary>"Within this many AVG Cls points" for the pruning-vs-distillation equivalence claim.</summary>
    public const double PruningMargin = 2.0;

    private static string UnderTrained(XLearnerSettings settings) => $"Sub-backbones of about 20 k parameters, {settings.ExpansionSteps} expansion steps and a {settings.SqueezeSteps}-step squeeze from scratch leave the detection branch nearly untrained (objects-det mAP about 1%), so the reconciliation layers carry little from it to the classification branch, which is where the paper's gain comes from.";

    private const string WiderProbe = "Its representation concatenates both groups' maps (more pooled features than the student's 32): with a linear probe on a few hundred images, more features buy accuracy, so this is our representation choice more than the method; on detection transfer, where the FPN projects every width to the same channels, the extra width does not help.";

    public static IReadOnlyList<ClaimRecord> Judge(IReadOnlyList<XLearnerSeedResult> results, XLearnerSettings settings, DownstreamSettings downstream, string command)
    {
        var claims = new List<ClaimRecord>();
        void Add(string claim, string ours, ClaimJudgement judgement, string why) =>
            claims.Add(ClaimRecord.From(System, claim, ClaimCatalogue.Paper(System, claim), ours, judgement, command,
                judgement.Verdict == ClaimVerdict.Holds ? null : why));

        double[] Avg(string arm) => results.Select(r => Find(r.Base, arm).Downstream.AverageClassification).ToArray();
        double[] Det(string arm) => results.Select(r => Find(r.Base, arm).Downstream.DetectionAp50).ToArray();
        string Vs(double[] a, double[] b, string metric = "AVG Cls") => $"{metric} {ClaimRule.FormatMeanStd(a)} vs {ClaimRule.FormatMeanStd(b)}";
        ClaimJudgement BetterCls(string a, string b) => ClaimRule.Better(Avg(a), Avg(b),
            fallbackStandardError: ProbeStandardError(results[0], a, b, downstream), fallbackBasis: $"one seed: binomial error of the three probe accuracies on {Downstream.DescribeImages(downstream, "test")} test images per suite");

        Add("X-Learner beats hard sharing downstream (AVG Cls)", Vs(Avg("X-Learner"), Avg("Hard-sharing")), BetterCls("X-Learner", "Hard-sharing"), UnderTrained(settings));
        Add("X-Learner beats hard sharing on detection transfer", Vs(Det("X-Learner"), Det("Hard-sharing"), "down-det AP50"), ClaimRule.Better(Det("X-Learner"), Det("Hard-sharing")),
            "Faster R-CNN-lite reaches only a few % AP50 on down-det after a short fine-tune for every arm. " + UnderTrained(settings));
        Add("The squeezed student beats the single-source baseline (AVG Cls)", Vs(Avg("X-Learner"), Avg("Single-source (shapes-cls)")), BetterCls("X-Learner", "Single-source (shapes-cls)"),
            "The single-source backbone never needs colour, which two of our three probe suites reward; if this fails, the multi-source backbone did not learn more than shape either.");
        Add("Reconciliation helps: X-Learner beats w/o Rec (AVG Cls)", Vs(Avg("X-Learner"), Avg("X-Learner w/o Rec")), BetterCls("X-Learner", "X-Learner w/o Rec"), UnderTrained(settings));
        Add("Expand → squeeze beats squeeze → expand (X-Learner_r), AVG Cls", Vs(Avg("X-Learner"), Avg("X-Learner_r")), BetterCls("X-Learner", "X-Learner_r"),
            "X-Learner_r keeps an expanded half-width pair. " + WiderProbe);
        Add("Bottom-up beats top-down (X-Learner_t), AVG Cls", Vs(Avg("X-Learner"), Avg("X-Learner_t")), BetterCls("X-Learner", "X-Learner_t"),
            "Top-down and bottom-up reconciliation both carry little from an under-trained detection branch at this scale, so their order decides little. " + UnderTrained(settings));

        var pruned = Avg("X-Learner_p");
        var distilled = Avg("X-Learner");
        var differences = pruned.Zip(distilled, (p, d) => p - d).ToArray();
        var (meanDifference, spread) = ClaimRule.MeanStd(differences);
        var equivalence = differences.Length >= 2
            ? ClaimRule.FromGap(PruningMargin - Math.Abs(meanDifference), spread / Math.Sqrt(differences.Length),
                $"equivalence within {PruningMargin:0} points: gap = {PruningMargin:0} − |mean paired difference|, SE over {differences.Length} seeds")
            : ClaimRule.FromGap(PruningMargin - Math.Abs(meanDifference), ProbeStandardError(results[0], "X-Learner_p", "X-Learner", downstream),
                $"equivalence within {PruningMargin:0} points, one seed: binomial error of the probe accuracies");
        Add("Pruning (X-Learner_p) is about as good as distillation (within 2 points AVG Cls)",
            $"AVG Cls {ClaimRule.FormatMeanStd(pruned)} vs {ClaimRule.FormatMeanStd(distilled)} (difference {ClaimRule.FormatMeanStd(differences)})", equivalence,
            "X-Learner_p keeps the whole expanded network (pruned to the student's conv budget). " + WiderProbe);

        var hsChange = results.Select(r => BaseMean(Find(r.Extended, "Hard-sharing (+OOD)")) - BaseMean(Find(r.Base, "Hard-sharing"))).ToArray();
        var xlChange = results.Select(r => BaseMean(Find(r.Extended, "X-Learner (+OOD)")) - BaseMean(Find(r.Base, "X-Learner"))).ToArray();
        Add("Out-of-domain sources hurt hard sharing upstream more than X-Learner",
            $"change of the mean base-source upstream score: hard sharing {ClaimRule.FormatMeanStd(hsChange)}, X-Learner {ClaimRule.FormatMeanStd(xlChange)}",
            ClaimRule.Better(xlChange, hsChange),
            "Upstream scores rest on a few hundred test images per source and under-trained models (objects-det mAP about 1%), so a change of a point or two is inside the noise; our out-of-domain sources (dark, blurred, tiny objects) also compete less with the base sources than the paper's do.");
        return claims;
    }

    /// <summary>Mean of the four base-source upstream scores in % (the Table 3 comparison).</summary>
    public static double BaseMean(ArmResult arm) =>
        new[] { "shapes-cls/top1", "fine-cls/top1", "scenes-cls/top1", "objects-det/mAP" }.Average(k => 100 * arm.Upstream[k]);

    /// <summary>
    /// Binomial standard error of the difference of two arms' AVG Cls (mean of the suites' accuracies,
    /// each on its own test images: <see cref="DownstreamSettings.ProbeTest"/>, or the whole split where
    /// it is smaller): √(Σ_suites SE²) / suites.
    /// </summary>
    public static double ProbeStandardError(XLearnerSeedResult seed, string a, string b, DownstreamSettings downstream)
    {
        var first = Find(seed.Base, a).Downstream.ProbeAccuracy;
        var second = Find(seed.Base, b).Downstream.ProbeAccuracy;
        double sum = downstream.ProbeSuites.Sum(s => Math.Pow(ClaimRule.BinomialStandardError(first[s], second[s], Downstream.ImagesUsed(s, "test", downstream.ProbeTest)), 2));
        return Math.Sqrt(sum) / downstream.ProbeSuites.Count;
    }

    public static ArmResult Find(IReadOnlyList<ArmResult> rows, string arm) =>
        rows.FirstOrDefault(a => a.Arm == arm) ?? throw new InvalidOperationException($"xlearner: expected an arm '{arm}', found {string.Join(", ", rows.Select(r => r.Arm))}");
}
