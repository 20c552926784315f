using System.Diagnostics;
using System.Text.Json;
using Tessera.Models.Experiments;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Eva;

/// <summary>
/// <c>tessera experiment eva</c>: EVA (paper 003) at reduced scale on the procedural world: a small
/// CLIP teacher on image-caption pairs (trained once, frozen, shared by the seeds); per seed, EVA students (masked feature
/// prediction) and feature-distillation students at three pre-training lengths, fine-tuning of
/// EVA, FD, a ViT from scratch and the teacher's image tower on classification suites and
/// segmentation, and EVA-CLIP vs CLIP from scratch. Writes docs/results/eva.md, eva.json (the
/// claims' verdicts), SVG plots and a PNG of a masked input with its teacher-feature map.
/// </summary>
public sealed class EvaExperiment : IExperiment
{
    public string Name => "eva";

    public string Description => "EVA: CLIP teacher, masked feature prediction vs feature distillation, fine-tuning, EVA-CLIP vs CLIP from scratch (paper 003, Table 2, Table 10)";

    /// <summary>Seeds per cell when the command names none.</summary>
    public const int DefaultSeeds = 3;

    /// <summary>The default (reported) scale, the smoke-test scale (~2 minutes), or the long scale (<see cref="LongScale"/>).</summary>
    public static EvaSettings Scale(bool quick, bool @long = false) => quick
        ? new EvaSettings
        {
            TeacherSteps = 40, TeacherBatch = 24, PretrainSteps = [6, 12, 24], PretrainBatch = 16, FineTuneSteps = 12, SegmentationSteps = 8, FineTuneBatch = 16,
            ClipSteps = 16, TestImages = 100, ZeroShotImages = 100, ProbeImages = 200, Warmup = 4,
        }
        : @long
        ? new EvaSettings { FineTuneSteps = 300, SegmentationSteps = 400, TestImages = 600, ClipSteps = 300, ZeroShotImages = 2000 }
        : new EvaSettings();

    /// <inheritdoc/>
    public string? LongScale =>
        "fine-tuning runs 300 steps per classification suite instead of 100, and 400 steps on down-seg instead of 100 (a one-seed probe, seed 0: after 100 steps every arm is still on the steep part of its curve, "
        + "down-textures 29-34 % vs 52-58 % after 300, and down-seg sits at the background-only floor of 12.5 mIoU, vs 16.3-16.5 for scratch, EVA and the teacher's tower after 400), so the fine-tuned claims compare what each initialisation reaches rather than how fast its first steps go; "
        + "down-shapes is scored on its whole 600-image test split instead of 400 (down-textures, 400, and down-seg, 300, already were); EVA-CLIP and CLIP from scratch train 300 steps instead of 150 "
        + "and are scored zero-shot on 2,000 captions test images instead of 400 (held-out down-shapes: its 600). The teacher and the pre-training lengths (40/100/200 steps) are the default's, so every claim keeps its wording and meets its default verdict in the ledger. About 2.5x the default's time.";

    public IReadOnlyDictionary<string, object> Run(ExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var settings = Scale(options.Quick, options.Long);
        settings.Validate();
        int seeds = options.Seeds ?? DefaultSeeds;
        Directory.CreateDirectory(options.OutputFolder);
        var results = new List<EvaSeedResult>();
        string pageFolder = Path.GetDirectoryName(Path.GetFullPath(options.ResultsPage))!;
        string stem = Path.GetFileNameWithoutExtension(options.ResultsPage);
        options.Log($"teacher CLIP: {settings.TeacherSteps} steps of {settings.TeacherBatch} image-caption pairs (shared by every seed)");
        var (teacher, teacherResult) = new EvaArms(settings, options.Log).Teacher();
        for (int s = 0; s < seeds; s++)
        {
            var seeded = settings with { Seed = (ulong)s };
            options.Log($"seed {s}: MIM and FD at {string.Join("/", settings.PretrainSteps)} steps, fine-tuning, EVA-CLIP");
            var arms = new EvaArms(seeded, options.Log);
            var result = arms.Run(teacher);
            if (s == 0)
            {
                Directory.CreateDirectory(pageFolder);
                EvaFeatureMap.Write(Path.Combine(pageFolder, $"{stem}-masked-features.png"), teacher, arms.LastEvaStudent!, seeded);
            }
            results.Add(result);
            AtomicFile.WriteAllText(Path.Combine(options.OutputFolder, $"seed-{s}.json"), JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        }
        double minutes = clock.Elapsed.TotalMinutes;
        var page = new EvaPage(results, teacherResult, settings, options.Quick, minutes) { LongScale = options.Long ? LongScale : null };
        page.Write(options.ResultsPage);
        var headline = new Dictionary<string, object>(StringComparer.Ordinal) { ["minutes"] = Math.Round(minutes, 2), ["seeds"] = seeds };
        foreach (var claim in page.Claims())
            headline[claim.Claim] = claim.Verdict.ToString();
        return headline;
    }
}
