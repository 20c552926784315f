using System.Diagnostics;
using System.Globalization;
using Tessera.Autograd;

namespace Tessera.Models.Systems.Eva;

/// <summary>One pre-training run: EVA's masked feature prediction ("MIM") or feature distillation ("FD") for <paramref name="Steps"/> steps.</summary>
/// <param name="FineTuneTop1">Top-1 (%) after fine-tuning on the first classification suite.</param>
/// <param name="LinearTop1">Linear-probe top-1 (%) of the frozen backbone on the first classification suite.</param>
public sealed record PretrainArm(string Objective, int Steps, IReadOnlyList<EvaPoint> Curve, StudentProbe Probe, double FineTuneTop1, double LinearTop1, double Seconds);

/// <summary>A fine-tuned arm: top-1 (%) per classification suite and the segmentation mIoU (%).</summary>
public sealed record FineTuneRow(string Arm, IReadOnlyDictionary<string, double> Top1, double Miou, double Seconds)
{
    public double MeanTop1 => Top1.Values.Average();
}

/// <summary>A contrastive run of EVA-CLIP or CLIP from scratch: loss per step and zero-shot top-1 (%) in domain (captions test) and held out (down-shapes).</summary>
public sealed record ClipArm(string Arm, IReadOnlyList<EvaPoint> Curve, double ZeroShot, double ZeroShotHeldOut, double Seconds);

/// <summary>The teacher CLIP: its loss per step and zero-shot top-1 (%) in domain and held out.</summary>
public sealed record TeacherResult(IReadOnlyList<EvaPoint> Curve, double ZeroShot, double ZeroShotHeldOut, double Seconds);

/// <summary>Everything one seed measures (the teacher is shared by every seed).</summary>
/// <param name="InitialProbe">The masked-patch probe of the student before pre-training (same initialisation as every student of the seed).</param>
public sealed record EvaSeedResult(ulong Seed, StudentProbe InitialProbe, IReadOnlyList<PretrainArm> Pretrain, IReadOnlyList<FineTuneRow> FineTune, IReadOnlyList<ClipArm> Clip);

/// <summary>
/// The arms of the EVA experiment. The CLIP teacher (<see cref="Teacher"/>) is trained once on
/// image-caption pairs, evaluated zero-shot and frozen, and then shared by every seed, as the paper's
/// teacher is one fixed public model (OpenAI CLIP-L); per seed (<see cref="Run"/>): (2) at every pre-training length, an EVA student (MIM)
/// and an FD student from the same initialisation and image stream, each probed (cosine, feature
/// spread) and fine-tuned on the first classification suite; (3) at the longest length, EVA, FD,
/// a ViT from scratch and the teacher's image tower fine-tuned on every classification suite and on
/// segmentation; (4) EVA-CLIP vs CLIP from scratch for the same steps and data.
/// </summary>
public sealed class EvaArms(EvaSettings settings, Action<string>? log)
{
    /// <summary>Arm names of the fine-tuning table, in order.</summary>
    public const string Scratch = "ViT from scratch", TeacherTower = "Teacher image tower (CLIP)", FdStudent = "FD student", EvaStudentArm = "EVA student (MIM)";
    public const string EvaClipArm = "EVA-CLIP (EVA init)", ScratchClipArm = "CLIP from scratch";

    /// <summary>The held-out zero-shot suite (shape classes under a new palette and rooms).</summary>
    public const string HeldOutZeroShot = "down-shapes";

    /// <summary>Trains the teacher (or takes <paramref name="pretrained"/>), freezes it and measures it.</summary>
    public (ClipModel Teacher, TeacherResult Result) Teacher(ClipModel? pretrained = null)
    {
        var clock = Stopwatch.StartNew();
        var teacher = pretrained ?? new ClipModel(settings.Teacher, EvaStages.Stream(settings.Seed, 0));
        var curve = pretrained is null
            ? EvaStages.TrainClip(teacher, settings.TeacherSteps, settings.TeacherBatch, settings.TeacherLearningRate, settings, EvaStages.Stream(settings.Seed, 1), log, "teacher CLIP")
            : [];
        teacher.Freeze();
        var templates = settings.Prompts ?? ZeroShot.DefaultTemplates;
        double zeroShot = ZeroShot.Top1(teacher, EvaStages.PretrainSource, settings.ZeroShotImages, templates);
        double heldOut = ZeroShot.Top1(teacher, HeldOutZeroShot, settings.ZeroShotImages, templates);
        log?.Invoke(Inv($"  teacher CLIP: zero-shot top-1 {zeroShot:F1} (captions test), {heldOut:F1} ({HeldOutZeroShot}), {clock.Elapsed.TotalSeconds:F0} s"));
        return (teacher, new TeacherResult(curve, zeroShot, heldOut, clock.Elapsed.TotalSeconds));
    }

    /// <summary>A student pre-trained with MIM (<paramref name="masked"/>) or FD for <paramref name="steps"/> steps, with its curve.</summary>
    public (EvaStudent Student, List<EvaPoint> Curve) PretrainStudent(ClipModel teacher, int steps, bool masked)
    {
        // Same initialisation, image stream and mask stream for every arm of a seed: a paired comparison.
        var student = EvaStudent.For(settings, teacher.Config, EvaStages.Stream(settings.Seed, 2));
        var curve = EvaStages.Pretrain(student, teacher, steps, masked, settings, EvaStages.Stream(settings.Seed, 3), EvaStages.Stream(settings.Seed, 4), log,
            $"{(masked ? "MIM" : "FD")} {steps} steps");
        return (student, curve);
    }

    /// <summary>The longest-trained EVA student of the last <see cref="Run"/>.</summary>
    public EvaStudent? LastEvaStudent { get; private set; }

    /// <summary>Runs every arm of one seed against the frozen <paramref name="teacher"/>.</summary>
    public EvaSeedResult Run(ClipModel teacher)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        var studentShape = new VitShape(settings.Teacher.ImageSize, settings.Teacher.PatchSize, settings.StudentWidth, settings.StudentDepth, settings.StudentHeads);
        var teacherShape = new VitShape(settings.Teacher.ImageSize, settings.Teacher.PatchSize, settings.Teacher.ImageWidth, settings.Teacher.ImageDepth, settings.Teacher.ImageHeads);
        string firstSuite = settings.ClassificationSuites[0];
        var initialProbe = EvaStages.Probe(EvaStudent.For(settings, teacher.Config, EvaStages.Stream(settings.Seed, 2)), teacher, masked: true, settings);

        var pretrain = new List<PretrainArm>();
        EvaStudent? longestMim = null, longestFd = null;
        int longest = settings.PretrainSteps.Max();
        foreach (int steps in settings.PretrainSteps)
        {
            foreach (bool masked in new[] { true, false })
            {
                var clock = Stopwatch.StartNew();
                string objective = masked ? "MIM" : "FD";
                var (student, curve) = PretrainStudent(teacher, steps, masked);
                var probe = EvaStages.Probe(student, teacher, masked, settings);
                double linear = EvaFineTune.Probe(student.Backbone, firstSuite, settings);
                double top1 = EvaFineTune.Classification(studentShape, student.Backbone.StateDict(), firstSuite, settings, log, $"{objective}-{steps} fine-tune {firstSuite}");
                pretrain.Add(new PretrainArm(objective, steps, curve, probe, top1, linear, clock.Elapsed.TotalSeconds));
                log?.Invoke(Inv($"  {objective} {steps} steps: held-out cosine {probe.Cosine:F3}, feature std {probe.FeatureStd:F3} (teacher {probe.TeacherStd:F3}), {firstSuite} linear probe {linear:F1}, fine-tuned top-1 {top1:F1}, {clock.Elapsed.TotalSeconds:F0} s"));
                if (steps == longest)
                {
                    if (masked) longestMim = student;
                    else longestFd = student;
                }
            }
        }

        var rows = new List<FineTuneRow>
        {
            FineTune(Scratch, studentShape, null, null),
            FineTune(TeacherTower, teacherShape, teacher.Image.StateDict(), null),
            FineTune(FdStudent, studentShape, longestFd!.Backbone.StateDict(), pretrain.Last(a => a.Objective == "FD" && a.Steps == longest).FineTuneTop1),
            FineTune(EvaStudentArm, studentShape, longestMim!.Backbone.StateDict(), pretrain.Last(a => a.Objective == "MIM" && a.Steps == longest).FineTuneTop1),
        };

        LastEvaStudent = longestMim;
        var clip = new List<ClipArm>
        {
            ClipRun(EvaClipArm, EvaClip.FromStudent(longestMim, teacher, settings, EvaStages.Stream(settings.Seed, 5))),
            ClipRun(ScratchClipArm, EvaClip.FromScratch(teacher, settings, EvaStages.Stream(settings.Seed, 5))),
        };
        return new EvaSeedResult(settings.Seed, initialProbe, pretrain, rows, clip);
    }

    /// <summary>Fine-tunes one backbone on every suite and on segmentation (<paramref name="firstSuiteTop1"/>: the first suite's score when already measured with the same seed and settings).</summary>
    private FineTuneRow FineTune(string arm, VitShape shape, IReadOnlyDictionary<string, Tensor>? backbone, double? firstSuiteTop1)
    {
        var clock = Stopwatch.StartNew();
        var top1 = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < settings.ClassificationSuites.Count; i++)
        {
            string suite = settings.ClassificationSuites[i];
            top1[suite] = i == 0 && firstSuiteTop1 is double known ? known : EvaFineTune.Classification(shape, backbone, suite, settings, log, $"{arm} fine-tune {suite}");
        }
        double miou = EvaFineTune.Segmentation(shape, backbone, settings.SegmentationSuite, settings, log, $"{arm} fine-tune {settings.SegmentationSuite}");
        log?.Invoke(Inv($"  {arm}: ") + string.Join(", ", top1.Select(kv => Inv($"{kv.Key} {kv.Value:F1}"))) + Inv($", {settings.SegmentationSuite} mIoU {miou:F1}, {clock.Elapsed.TotalSeconds:F0} s"));
        return new FineTuneRow(arm, top1, miou, clock.Elapsed.TotalSeconds);
    }

    private ClipArm ClipRun(string arm, ClipModel clip)
    {
        var clock = Stopwatch.StartNew();
        var curve = EvaStages.TrainClip(clip, settings.ClipSteps, settings.TeacherBatch, settings.TeacherLearningRate, settings, EvaStages.Stream(settings.Seed, 6), log, arm);
        var templates = settings.Prompts ?? ZeroShot.DefaultTemplates;
        double zeroShot = ZeroShot.Top1(clip, EvaStages.PretrainSource, settings.ZeroShotImages, templates);
        double heldOut = ZeroShot.Top1(clip, HeldOutZeroShot, settings.ZeroShotImages, templates);
        log?.Invoke(Inv($"  {arm}: zero-shot top-1 {zeroShot:F1} (captions test), {heldOut:F1} ({HeldOutZeroShot}), final loss {curve.Skip(Math.Max(0, curve.Count - 10)).Average(p => p.Value):F3}, {clock.Elapsed.TotalSeconds:F0} s"));
        return new ClipArm(arm, curve, zeroShot, heldOut, clock.Elapsed.TotalSeconds);
    }

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
