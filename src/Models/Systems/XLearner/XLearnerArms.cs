using System.Diagnostics;
using Tessera.Autograd;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>One trained arm: its upstream metrics ("source/metric"), downstream scores, size and cost.</summary>
/// <param name="Arm">Row name (Hard-sharing, X-Learner, X-Learner_r...).</param>
/// <param name="Upstream">Test metrics on the pre-training sources of the final model (the squeezed student through its guidance layers and the teacher's heads).</param>
/// <param name="Downstream">Probe and detection fine-tune of the final model.</param>
/// <param name="Parameters">Backbone parameters of the final model (non-zero ones for X-Learner_p).</param>
/// <param name="Seconds">Wall time of the arm's own stages and its downstream evaluation.</param>
/// <param name="Curves">Loss curves by stage.</param>
public sealed record ArmResult(string Arm, IReadOnlyDictionary<string, double> Upstream, DownstreamResult Downstream, long Parameters, double Seconds,
    IReadOnlyDictionary<string, IReadOnlyList<CurvePoint>> Curves);

/// <summary>
/// Runs the arms of the X-Learner comparison on one source set. The X-Learner family shares one
/// alone phase (tau steps of each sub-backbone on its group's sources; identical for every
/// variant since gammas do not exist before the joint phase), then each variant continues from a
/// copy of it: X-Learner (bottom-up joint phase + squeeze), w/o Rec (joint phase without gammas +
/// squeeze), X-Learner_t (top-down + squeeze), X-Learner_p (X-Learner's expanded model pruned to
/// the student's conv budget + fine-tuned), X-Learner_r (squeeze each task's teacher into a
/// 1/√2-width sub-backbone, then the bottom-up joint phase on those).
/// </summary>
public sealed class XLearnerArms(XLearnerSettings settings, DownstreamSettings downstream, Action<string>? log)
{
    /// <summary>Which X-Learner arms <see cref="RunFamily"/> trains.</summary>
    [Flags]
    public enum Variants
    {
        XLearner = 1,
        WithoutRec = 2,
        TopDown = 4,
        Pruned = 8,
        Reversed = 16,
        All = XLearner | WithoutRec | TopDown | Pruned | Reversed,
    }

    /// <summary>Hard sharing: one narrow ResNet and one head per source, K steps of Eq. 1. With one source it is the single-source baseline.</summary>
    public ArmResult HardSharing(string arm, IReadOnlyList<SourceSpec> sources)
    {
        var clock = Stopwatch.StartNew();
        log?.Invoke($"  {arm}: hard sharing over {sources.Count} source(s)");
        var model = XLearnerStages.CreateHardSharing(sources, settings);
        var curve = XLearnerStages.Train(model.Model, settings, settings.ExpansionSteps, 0, settings.ExpansionSteps, log, "train");
        var upstream = SourceTrainer.Evaluate(model.Model, settings.EvalBatches);
        long parameters = model.Backbone.Module.ParameterCount();
        var result = Downstream.Evaluate(model.Backbone, downstream, settings, log);
        return Finish(arm, upstream, result, parameters, clock, new Dictionary<string, IReadOnlyList<CurvePoint>> { ["train"] = curve });
    }

    /// <summary>The X-Learner family on <paramref name="sources"/>; rows in a fixed order (X-Learner first), plus the expanded teacher's upstream metrics.</summary>
    public (List<ArmResult> Arms, Dictionary<string, double> TeacherUpstream, long TeacherParameters) RunFamily(IReadOnlyList<SourceSpec> sources, Variants variants, string suffix = "")
    {
        var arms = new List<ArmResult>();
        var clock = Stopwatch.StartNew();
        log?.Invoke($"  expansion, alone phase ({settings.Tau} steps, {XLearnerStages.GroupsOf(sources).Length} sub-backbones)");
        var (aloneBackbone, aloneModel) = XLearnerStages.CreateExpanded(sources, settings, ReconciliationKind.None, settings.Width);
        var aloneCurve = XLearnerStages.ExpandAlone(aloneBackbone, aloneModel, settings, log);
        var snapshot = Snapshot(aloneModel);
        double aloneSeconds = clock.Elapsed.TotalSeconds;

        // X-Learner (and its expanded model, which X-Learner_p prunes).
        clock.Restart();
        log?.Invoke($"  X-Learner{suffix}: joint phase (bottom-up reconciliation) + squeeze");
        var (expanded, expandedModel) = FromSnapshot(sources, snapshot, ReconciliationKind.BottomUp, settings.Width);
        var joint = XLearnerStages.ExpandJoint(expanded, expandedModel, settings, log);
        var teacherUpstream = SourceTrainer.Evaluate(expandedModel, settings.EvalBatches);
        long teacherParameters = expanded.ParameterCount();
        double jointSeconds = clock.Elapsed.TotalSeconds;
        if (variants.HasFlag(Variants.XLearner))
            arms.Add(SqueezeArm("X-Learner" + suffix, expanded, expandedModel, aloneCurve, joint, aloneSeconds + jointSeconds));
        if (variants.HasFlag(Variants.Pruned))
        {
            clock.Restart();
            log?.Invoke($"  X-Learner_p{suffix}: magnitude pruning of the expanded model to the student's conv budget");
            long keep = new NarrowResNetBackbone(3, settings.Width, settings.Depth, XLearnerStages.InitStream(settings.Seed, 2)).Module.Parameters().Where(p => p.Rank == 4).Sum(p => (long)p.Numel);
            var pruning = new MagnitudePruning(expanded, keep);
            expanded.Phase = ExpansionPhase.Joint;
            var pruneCurve = pruning.Run(expandedModel, settings, log);
            var upstream = SourceTrainer.Evaluate(expandedModel, settings.EvalBatches);
            long parameters = pruning.NonZero() + expanded.Parameters().Where(p => p.Rank != 4).Sum(p => (long)p.Numel);
            var result = Downstream.Evaluate(new ExpandedRepresentation(expanded), downstream, settings, log, _ => pruning.Apply());
            arms.Add(Finish("X-Learner_p" + suffix, upstream, result, parameters, clock, new Dictionary<string, IReadOnlyList<CurvePoint>>
            {
                ["alone"] = aloneCurve, ["joint"] = joint, ["prune"] = pruneCurve,
            }, aloneSeconds + jointSeconds));
        }
        if (variants.HasFlag(Variants.WithoutRec))
        {
            clock.Restart();
            log?.Invoke($"  X-Learner w/o Rec{suffix}: joint phase without reconciliation layers + squeeze");
            var (plain, plainModel) = FromSnapshot(sources, snapshot, ReconciliationKind.None, settings.Width);
            var plainJoint = XLearnerStages.ExpandJoint(plain, plainModel, settings, log);
            arms.Add(SqueezeArm("X-Learner w/o Rec" + suffix, plain, plainModel, aloneCurve, plainJoint, aloneSeconds + clock.Elapsed.TotalSeconds));
        }
        if (variants.HasFlag(Variants.TopDown))
        {
            clock.Restart();
            log?.Invoke($"  X-Learner_t{suffix}: joint phase with top-down reconciliation + squeeze");
            var (topDown, topDownModel) = FromSnapshot(sources, snapshot, ReconciliationKind.TopDown, settings.Width);
            var topDownJoint = XLearnerStages.ExpandJoint(topDown, topDownModel, settings, log);
            arms.Add(SqueezeArm("X-Learner_t" + suffix, topDown, topDownModel, aloneCurve, topDownJoint, aloneSeconds + clock.Elapsed.TotalSeconds));
        }
        if (variants.HasFlag(Variants.Reversed))
        {
            clock.Restart();
            int halfWidth = Math.Max(2, (int)Math.Round(settings.Width / Math.Sqrt(2)));
            log?.Invoke($"  X-Learner_r{suffix}: squeeze each task's teacher into width {halfWidth}, then expand");
            var (teacher, teacherModel) = FromSnapshot(sources, snapshot, ReconciliationKind.None, settings.Width);
            var (half, halfModel) = XLearnerStages.CreateExpanded(sources, settings, ReconciliationKind.BottomUp, halfWidth);
            var squeezeCurve = XLearnerStages.SqueezeEach(teacher, teacherModel, half, settings, log);
            var halfJoint = XLearnerStages.ExpandJoint(half, halfModel, settings, log);
            var upstream = SourceTrainer.Evaluate(halfModel, settings.EvalBatches);
            long parameters = half.ParameterCount();
            var result = Downstream.Evaluate(new ExpandedRepresentation(half), downstream, settings, log);
            arms.Add(Finish("X-Learner_r" + suffix, upstream, result, parameters, clock, new Dictionary<string, IReadOnlyList<CurvePoint>>
            {
                ["alone"] = aloneCurve, ["squeeze"] = squeezeCurve, ["joint"] = halfJoint,
            }, aloneSeconds));
        }
        return (arms, teacherUpstream, teacherParameters);
    }

    private ArmResult SqueezeArm(string arm, ExpandedBackbone teacher, MultiTaskModel teacherModel, List<CurvePoint> alone, List<CurvePoint> joint, double sharedSeconds)
    {
        var clock = Stopwatch.StartNew();
        var (student, guidance, squeeze) = XLearnerStages.Squeeze(teacher, teacherModel, settings, log);
        var guided = new GuidedStudent(student, guidance, teacher.GroupOf, teacher.FeatureChannels);
        var upstream = SourceTrainer.Evaluate(new MultiTaskModel(guided, teacherModel.Tasks), settings.EvalBatches);
        long parameters = student.Module.ParameterCount();
        var result = Downstream.Evaluate(student, downstream, settings, log);
        return Finish(arm, upstream, result, parameters, clock, new Dictionary<string, IReadOnlyList<CurvePoint>>
        {
            ["alone"] = alone, ["joint"] = joint, ["squeeze"] = squeeze,
        }, sharedSeconds);
    }

    private ArmResult Finish(string arm, Dictionary<string, double> upstream, DownstreamResult result, long parameters, Stopwatch clock,
        IReadOnlyDictionary<string, IReadOnlyList<CurvePoint>> curves, double extraSeconds = 0)
    {
        var row = new ArmResult(arm, upstream, result, parameters, clock.Elapsed.TotalSeconds + extraSeconds, curves);
        log?.Invoke(FormattableString.Invariant($"  {arm}: AVG Cls {result.AverageClassification:F1}, down-det AP50 {result.DetectionAp50:F1} mAP {result.DetectionMap:F1}, {parameters:N0} backbone parameters, {row.Seconds:F0} s"));
        return row;
    }

    private (ExpandedBackbone, MultiTaskModel) FromSnapshot(IReadOnlyList<SourceSpec> sources, Dictionary<string, Tensor> snapshot, ReconciliationKind kind, int width)
    {
        var (backbone, model) = XLearnerStages.CreateExpanded(sources, settings, kind, width);
        var (missing, unexpected) = model.LoadStateDict(snapshot, strict: false);
        if (unexpected.Count > 0 || missing.Any(k => !k.StartsWith("backbone.gammas.", StringComparison.Ordinal)))
            throw new InvalidOperationException($"xlearner: the alone-phase snapshot does not fit the {kind} model (missing [{string.Join(", ", missing.Where(k => !k.StartsWith("backbone.gammas.", StringComparison.Ordinal)))}], unexpected [{string.Join(", ", unexpected)}])");
        return (backbone, model);
    }

    private static Dictionary<string, Tensor> Snapshot(MultiTaskModel model)
    {
        using var noGrad = GradMode.NoGrad();
        using var unscoped = TensorScope.Unscoped();
        return model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone(), StringComparer.Ordinal);
    }
}
