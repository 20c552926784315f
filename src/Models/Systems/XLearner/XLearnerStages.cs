using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>A backbone with one head per source, trained together.</summary>
public sealed record SourceModel(IMultiScaleBackbone Backbone, MultiTaskModel Model);

/// <summary>A loss curve point of a stage (global step, loss).</summary>
public sealed record CurvePoint(long Step, double Loss);

/// <summary>
/// The stages of X-Learner and its baselines as functions: hard sharing, the expansion stage
/// (alone then joint), the squeeze (multi-hint FitNets), X-Learner_r's per-task distillation and
/// X-Learner_p's gradual magnitude pruning. Each stage has its own AdamW; the learning rate
/// follows one warm-up + cosine schedule over the stage (the expansion's joint phase continues
/// the schedule of K steps where the alone phase left it, with fresh optimiser moments because
/// new parameters, the gammas, join there: our choice).
/// </summary>
public static class XLearnerStages
{
    /// <summary>Task groups in order of first appearance.</summary>
    public static string[] GroupsOf(IReadOnlyList<SourceSpec> sources) => sources.Select(s => s.Group).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>Source name → group.</summary>
    public static Dictionary<string, string> TaskGroups(IReadOnlyList<SourceSpec> sources) => sources.ToDictionary(s => s.TaskName, s => s.Group, StringComparer.Ordinal);

    /// <summary>An independent initialisation stream per purpose (backbone, heads, guidance...).</summary>
    public static Generator InitStream(ulong seed, int purpose) => new(MultiTaskTrainer.Mix(seed, 10 + (ulong)purpose, 0));

    /// <summary>The hard-sharing model: one narrow ResNet (a sub-backbone's size) shared by every source.</summary>
    public static SourceModel CreateHardSharing(IReadOnlyList<SourceSpec> sources, XLearnerSettings settings)
    {
        var backbone = new NarrowResNetBackbone(3, settings.Width, settings.Depth, InitStream(settings.Seed, 0));
        return new SourceModel(backbone, new MultiTaskModel(backbone, SourceTrainer.BuildTasks(sources, backbone, settings.HeadWidth, settings.Size, InitStream(settings.Seed, 1))));
    }

    /// <summary>An expanded backbone (one sub-backbone per group of <paramref name="sources"/>) with one head per source.</summary>
    public static (ExpandedBackbone Backbone, MultiTaskModel Model) CreateExpanded(IReadOnlyList<SourceSpec> sources, XLearnerSettings settings, ReconciliationKind kind, int width)
    {
        var backbone = new ExpandedBackbone(GroupsOf(sources), TaskGroups(sources), 3, width, settings.Depth, kind, InitStream(settings.Seed, 0));
        return (backbone, new MultiTaskModel(backbone, SourceTrainer.BuildTasks(sources, backbone, settings.HeadWidth, settings.Size, InitStream(settings.Seed, 1))));
    }

    /// <summary>
    /// Trains <paramref name="model"/> on its sources for <paramref name="steps"/> steps numbered from
    /// <paramref name="firstStep"/>, in a schedule of <paramref name="scheduleSteps"/> steps.
    /// </summary>
    public static List<CurvePoint> Train(MultiTaskModel model, XLearnerSettings settings, int steps, long firstStep, int scheduleSteps,
        Action<string>? log, string label, Action<long>? afterBackward = null, Action<long>? beforeStep = null, Action<long>? afterUpdate = null)
    {
        var (optimizer, scheduler) = CreateOptimizer(model.Parameters(), settings, scheduleSteps, firstStep);
        var trainer = new SourceTrainer(model, optimizer, scheduler, MultiTaskTrainer.Mix(settings.Seed, 20, firstStep), firstStep)
        {
            AfterBackward = afterBackward,
            BeforeStep = beforeStep,
            AfterUpdate = afterUpdate,
        };
        var curve = new List<CurvePoint>();
        var progress = new ProgressLine(log, label, steps);
        trainer.Run(steps, result =>
        {
            curve.Add(new CurvePoint(result.Step, result.Loss));
            progress.Report(result.Step - firstStep + 1, result.Loss);
        });
        return curve;
    }

    /// <summary>Expansion steps k ≤ tau (Algorithm 1): every sub-backbone alone on its group's sources.</summary>
    public static List<CurvePoint> ExpandAlone(ExpandedBackbone backbone, MultiTaskModel model, XLearnerSettings settings, Action<string>? log, Action<long>? afterBackward = null)
    {
        backbone.Phase = ExpansionPhase.Alone;
        return Train(model, settings, settings.Tau, 0, settings.ExpansionSteps, log, "expand (alone)", afterBackward);
    }

    /// <summary>Expansion steps k &gt; tau: the expanded backbone (Eq. 2) on every source jointly.</summary>
    public static List<CurvePoint> ExpandJoint(ExpandedBackbone backbone, MultiTaskModel model, XLearnerSettings settings, Action<string>? log, Action<long>? afterBackward = null)
    {
        backbone.Phase = ExpansionPhase.Joint;
        return Train(model, settings, settings.ExpansionSteps - settings.Tau, settings.Tau, settings.ExpansionSteps, log, "expand (joint)", afterBackward);
    }

    /// <summary>The whole expansion stage: tau steps alone, then K − tau joint.</summary>
    public static List<CurvePoint> Expand(ExpandedBackbone backbone, MultiTaskModel model, XLearnerSettings settings, Action<string>? log, Action<long>? afterBackward = null)
    {
        var curve = ExpandAlone(backbone, model, settings, log, afterBackward);
        curve.AddRange(ExpandJoint(backbone, model, settings, log, afterBackward));
        return curve;
    }

    /// <summary>
    /// The squeeze stage: multi-hint FitNets distillation of the expanded teacher (eval mode, every
    /// group's F^t of one pass) into a fresh sub-backbone-sized student, on the images of every source.
    /// </summary>
    public static (NarrowResNetBackbone Student, GuidanceSet Guidance, List<CurvePoint> Curve) Squeeze(ExpandedBackbone teacher, MultiTaskModel teacherModel,
        XLearnerSettings settings, Action<string>? log)
    {
        var student = new NarrowResNetBackbone(3, settings.Width, settings.Depth, InitStream(settings.Seed, 2));
        var guidance = new GuidanceSet(teacher.Groups, student.FeatureChannels, teacher.FeatureChannels, settings.HintLevels, InitStream(settings.Seed, 3));
        var curve = Distil(teacher, teacherModel, student.Module, guidance, images => Enumerable.Repeat(student.Forward("", images).Maps, teacher.Groups.Count).ToArray(),
            settings, log, "squeeze");
        return (student, guidance, curve);
    }

    /// <summary>
    /// X-Learner_r's first stage: each group's multi-source teacher E^t (plain path) distilled into
    /// its own narrower sub-backbone of <paramref name="student"/> (alone phase), hints at every level.
    /// </summary>
    public static List<CurvePoint> SqueezeEach(ExpandedBackbone teacher, MultiTaskModel teacherModel, ExpandedBackbone student, XLearnerSettings settings, Action<string>? log)
    {
        student.Phase = ExpansionPhase.Alone;
        var guidance = new GuidanceSet(teacher.Groups, student.FeatureChannels, teacher.FeatureChannels, settings.HintLevels, InitStream(settings.Seed, 4));
        return Distil(teacher, teacherModel, new StudentAndGuidance(student, guidance), guidance,
            images => student.ForwardGroups(images, null).Select(g => g!).ToArray(), settings, log, "squeeze (per task)");
    }

    private static List<CurvePoint> Distil(ExpandedBackbone teacher, MultiTaskModel teacherModel, Nn.Module trained, GuidanceSet guidance,
        Func<Tensor, IReadOnlyList<IReadOnlyList<Tensor>>> studentMaps, XLearnerSettings settings, Action<string>? log, string label)
    {
        var parameters = trained.Parameters().Concat(guidance.Parameters()).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToList();
        var (optimizer, scheduler) = CreateOptimizer(parameters, settings, settings.SqueezeSteps, 0);
        var tasks = teacherModel.Tasks;
        var data = tasks.Select((_, t) => new Generator(MultiTaskTrainer.Mix(settings.Seed, 30, t))).ToArray();
        var curve = new List<CurvePoint>();
        var progress = new ProgressLine(log, label, settings.SqueezeSteps);
        teacher.Eval();
        for (int step = 0; step < settings.SqueezeSteps; step++)
        {
            trained.Train();
            guidance.Train();
            using var scope = new TensorScope();
            Tensor? total = null;
            for (int t = 0; t < tasks.Count; t++)
            {
                var images = tasks[t].Source.Sample(DataSplit.Train, step, tasks[t].BatchSize, tasks[t].InputSize, data[t]).Inputs;
                IReadOnlyList<IReadOnlyList<Tensor>> targets;
                using (GradMode.NoGrad())
                    targets = teacher.ForwardGroups(images, null).Select(g => g!).ToArray();
                var loss = SqueezeLoss.Compute(targets, studentMaps(images), guidance);
                total = total is null ? loss : total + loss;
            }
            var objective = total! * (1f / tasks.Count);
            double value = objective.Item();
            if (!double.IsFinite(value))
                throw new NonFiniteLossException($"xlearner {label}: non-finite distillation loss at step {step}; lower the learning rate");
            objective.Backward();
            optimizer.Step();
            scheduler.Step();
            optimizer.ZeroGrad();
            curve.Add(new CurvePoint(step, value));
            progress.Report(step + 1, value);
        }
        teacher.Train();
        return curve;
    }

    /// <summary>AdamW with warm-up + cosine over <paramref name="scheduleSteps"/>, advanced to <paramref name="firstStep"/>.</summary>
    public static (AdamW Optimizer, LearningRateScheduler Scheduler) CreateOptimizer(IEnumerable<Tensor> parameters, XLearnerSettings settings, int scheduleSteps, long firstStep)
    {
        var optimizer = new AdamW(parameters, settings.LearningRate, weightDecay: settings.WeightDecay);
        int warmup = Math.Min(settings.Warmup, Math.Max(0, scheduleSteps - 1));
        var schedule = warmup > 0 ? Schedule.Warmup(warmup, Schedule.Cosine(Math.Max(1, scheduleSteps - warmup), 0.05)) : Schedule.Cosine(Math.Max(1, scheduleSteps), 0.05);
        var scheduler = new LearningRateScheduler(optimizer, schedule);
        for (long s = 0; s < firstStep; s++) scheduler.Step();
        return (optimizer, scheduler);
    }
}

/// <summary>Progress of a long stage as a few log lines (every tenth of the way).</summary>
internal sealed class ProgressLine(Action<string>? log, string label, int total)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private int _reported;

    public void Report(long done, double loss)
    {
        if (log is null || total <= 0) return;
        int tenth = (int)(done * 10 / total);
        if (tenth <= _reported && done != total) return;
        if (done == total && _reported == 10) return;
        _reported = Math.Max(tenth, _reported);
        if (done == total) _reported = 10;
        log(FormattableString.Invariant($"    {label}: step {done}/{total} loss {loss:F4} ({_clock.Elapsed.TotalSeconds:F0} s)"));
    }
}
