using System.Globalization;
using System.Text;
using Tessera.Models.Experiments;

namespace Tessera.Models.Systems.Gppf;

/// <summary>
/// The long page's discussion (<c>--long</c> only): what three times the steps changed against the
/// default scale, claim by claim for the six ties the default scale left. The default scale's numbers
/// are quoted from its page (docs/results/gppf.md, commit 0ca985b, 3 seeds); everything else is read
/// from this run's seeds, so the verdicts and numbers in the text are the page's own.
/// </summary>
internal static class GppfLongNotes
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Single-task means at the default scale (docs/results/gppf.md, commit 0ca985b): top-1 %, AP50 %, mIoU %, AbsRel.</summary>
    private static readonly Dictionary<string, double> s_defaultSingle = new(StringComparer.Ordinal)
    {
        ["shapes"] = 28.5, ["fine"] = 23.4, ["objects"] = 2.7, ["parts"] = 29.3, ["depth"] = 0.564,
    };

    /// <summary>Every claim's verdict and gap ± SE at the default scale (docs/results/gppf.md, commit 0ca985b, 3 seeds).</summary>
    private static readonly Dictionary<string, (ClaimVerdict Verdict, string Gap)> s_default = new(StringComparer.Ordinal)
    {
        ["Joint static (SIMT + SyncBN) beats single-task training on average"] = (ClaimVerdict.DoesNotHold, "-3.65 ± 0.34"),
        ["DyNet N=2 beats the static backbone on average"] = (ClaimVerdict.Tie, "-0.14 ± 1.13"),
        ["N=3 brings no further gain over N=2"] = (ClaimVerdict.Holds, "+1.01 ± 0.50"),
        ["SIMT beats one task per batch"] = (ClaimVerdict.Tie, "+1.47 ± 0.79"),
        ["SyncBN beats local BN under SIMT"] = (ClaimVerdict.Tie, "+1.37 ± 1.07"),
        ["Routes converge to near one-hot"] = (ClaimVerdict.DoesNotHold, "-0.06 ± 0.02"),
        ["All tasks share the stem unit"] = (ClaimVerdict.Tie, "+0.05 ± 0.07"),
        ["The extracted argmax path equals argmax routing"] = (ClaimVerdict.Holds, "+1.00 ± 0.00"),
        ["Fixed-path finetuning beats scratch"] = (ClaimVerdict.Tie, "+0.43 ± 1.54"),
        ["Dynamic finetuning beats scratch"] = (ClaimVerdict.Tie, "-0.61 ± 1.14"),
    };

    public static string Markdown(GppfMeasures m, IReadOnlyList<ClaimRecord> claims, GppfScale scale)
    {
        var md = new StringBuilder();
        md.AppendLine("## What the long scale separates").AppendLine();
        var tasks = GppfExperiment.Tasks;
        string singles = string.Join(", ", tasks.Select(t => Inv($"{t.Name} {m.Mean(s => s.SingleMetrics(), t).ToString(t.LowerIsBetter ? "0.000" : "0.0", Invariant)} ({s_defaultSingle[t.Name].ToString(t.LowerIsBetter ? "0.000" : "0.0", Invariant)})")));
        md.AppendLine(Inv($"{scale.Steps:N0} SIMT steps instead of 360 train every arm further: single-task {singles} (this page; in brackets the default page, commit 0ca985b). ")
            + Inv($"The joint static backbone gains less from the extra steps than single-task training does: its average gain over single-task training is {GppfMeasures.Signed(m.Gain(s => s.SimtStatic.Metrics))} points here, −3.6 ± 0.6 at the default scale. ")
            + "Below, every claim that was a tie at the default scale or whose verdict moved, with the default's verdict and gap ± SE beside this page's.").AppendLine();
        foreach (var claim in claims)
        {
            if (!s_default.TryGetValue(claim.Claim, out var before)) continue;
            if (before.Verdict != ClaimVerdict.Tie && before.Verdict == claim.Verdict) continue;
            var judgement = new ClaimJudgement(claim.Gap, claim.StandardError, claim.Verdict, claim.ErrorBasis);
            md.AppendLine(Inv($"- **{claim.Claim}**: {ClaimRule.Label(before.Verdict)} at the default scale ({before.Gap}), **{judgement.Label}** here ({claim.Gap:+0.00;-0.00} ± {claim.StandardError:0.00}). {Reading(claim.Claim, m)}"));
        }
        return md.AppendLine().ToString();
    }

    private static string Reading(string claim, GppfMeasures m) => claim switch
    {
        "SIMT beats one task per batch" => BatchNormReading(m),
        "SyncBN beats local BN under SIMT" => "The same mechanism as one task per batch (above): local BN normalises each device's task with its own statistics in training and is tested with the shared running statistics.",
        "DyNet N=2 beats the static backbone on average" => DyNetReading(m),
        "N=3 brings no further gain over N=2" => Inv($"N=3's average gain is {GppfMeasures.Signed(m.Gain(s => s.DyNet3.Metrics))} points against N=2's {GppfMeasures.Signed(m.Gain(s => s.DyNet2.Metrics))}; the default's verdict was a near-2-SE one (a fourth seed had already turned it into a tie in session 4)."),
        "Routes converge to near one-hot" => Inv($"Mean max p is {ClaimRule.FormatMeanStd(m.MeanMaxProbability(s => s.DyNet2), "0.000")} (0.842 ± 0.035 at the default scale): three times the steps at an intermediate tau move p further before the Gumbel sample saturates and its gradient vanishes."),
        "All tasks share the stem unit" => StemReading(m),
        "Fixed-path finetuning beats scratch" => TransferReading(m),
        "Dynamic finetuning beats scratch" => "As for the fixed path (above): the same pre-trained backbone, the same fine-tune length.",
        _ => "",
    };

    /// <summary>Per seed, the tasks grouped by their N=2 stem unit ("objects, depth | shapes, fine, parts").</summary>
    private static string StemReading(GppfMeasures m)
    {
        var groups = m.Seeds.Select(s => string.Join(" | ", GppfExperiment.Tasks.GroupBy(t => s.DyNet2.Routes[t.Name][0]).OrderBy(g => g.Key).Select(g => string.Join(", ", g.Select(t => t.Name))))).ToList();
        var split = m.Seeds.Select(s => string.Join(" | ", GppfExperiment.Tasks.GroupBy(t => s.DyNet2.Routes[t.Name][0]).Select(g => string.Join(", ", g.Select(t => t.Name))).Order(StringComparer.Ordinal))).Distinct().Count();
        return $"The stem units split the tasks into groups (by stem unit, per seed: {string.Join("; ", groups.Select((g, i) => $"seed {m.Seeds[i].Seed}: {g}"))})"
            + (split == 1 ? ", the same grouping in every seed: the split is learned, not noise. Which tasks pair up is decided by the tasks, not by chance; why these pair, and what would make the paper's shared stem emerge (width, more steps), we have not measured." : "; the grouping differs between seeds, so at this length which tasks share the stem is still decided by noise.");
    }

    private static string DyNetReading(GppfMeasures m)
    {
        var tasks = GppfExperiment.Tasks;
        string perTask = string.Join(", ", tasks.Select(t => $"{t.Name} {m.Cell(s => s.DyNet2.Metrics, t)} vs {m.Cell(s => s.SimtStatic.Metrics, t)}"));
        return $"Per task, N=2 vs static: {perTask}. "
            + Inv($"With routes near one-hot (mean max p {ClaimRule.FormatMeanStd(m.MeanMaxProbability(s => s.DyNet2), "0.000")}), each task's path has the static backbone's width, and each unit is trained by the tasks routed through it only, so it sees fewer images than the static backbone's one unit; ")
            + "while the joint backbone is still far below single-task training, images per unit matter more than keeping tasks apart (our reading, not measured separately).";
    }

    private static string TransferReading(GppfMeasures m)
    {
        var down = GppfExperiment.Downstream;
        return Inv($"down-shapes top-1: fixed path {m.Cell(s => s.Transfer.FixedPath.Metrics, down)}, dynamic {m.Cell(s => s.Transfer.DynamicExtracted, down)}, scratch {m.Cell(s => s.Transfer.Scratch.Metrics, down)} (default scale: 26.0, 25.0, 25.6). ")
            + Inv($"The longer pre-training gives a backbone that carries something to the held-out domain (N=2 shapes top-1 {m.Cell(s => s.DyNet2.Metrics, GppfExperiment.Tasks[0])} here, about 26 at the default scale). Pre-training and fine-tuning both ran three times longer, so this page does not say which of the two separated the transfer claims; scratch gains from the longer fine-tune too.");
    }

    /// <summary>
    /// Why one task per batch and local BN fall behind: measured once, separately (seed 0, the same
    /// recipes, a throwaway harness that re-estimates the backbone's batch-norm running statistics on 60
    /// training batches of one task before testing that task; docs/STATUS.md, issue 20).
    /// </summary>
    private static string BatchNormReading(GppfMeasures m)
    {
        var fine = GppfExperiment.Tasks[1];
        bool diverged = m.Seeds.Any(s => s.OneTaskPerBatch.Diverged is not null || s.LocalBn.Diverged is not null);
        return (diverged ? "Some seeds diverged (Table 1 says which); in the others the loss sits" : "Neither run diverges; the loss sits")
            + Inv($" mostly in fine-cls: top-1 {m.Cell(s => s.SimtStatic.Metrics, fine)} with SIMT + SyncBN, {m.Cell(s => s.OneTaskPerBatch.Metrics, fine)} with one task per batch, {m.Cell(s => s.LocalBn.Metrics, fine)} with local BN. ")
            + "A separate one-seed diagnosis (seed 0, the same recipes) re-estimated the backbone's batch-norm running statistics on each task's own training images before testing it: "
            + "fine top-1 rises from 12.5 to 34.7 under local BN and from 14.3 to 33.4 with one task per batch, while the SyncBN arm falls from 36.0 to 26.0 (the other tasks move by under 3 points, AbsRel by under 0.03). "
            + "Both arms normalise each task with its own statistics in training and are tested with running statistics averaged over all five tasks; fine-cls (close-ups in one vivid palette) is the task whose statistics sit furthest from that average. "
            + "SyncBN trains with the cross-task statistics it is tested with. So the paper's reason for SyncBN shows here as a train/test mismatch of the statistics, not as a divergence; "
            + "at 360 steps fine-cls was near chance in every joint arm (14.6, 8.2 and 10.4 of 64 classes) and the mismatch cost less than the seed spread.";
    }

    private static string Inv(FormattableString text) => text.ToString(Invariant);
}
