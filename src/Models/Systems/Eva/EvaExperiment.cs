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

    /// <summary>The default (reported) scale, or the smoke-test scale (~2 minutes).</summary>
    public static EvaSettings Scale(bool quick) => quick
        ? new EvaSettings
        {
            TeacherSteps = 40, TeacherBatch = 24, PretrainSteps = [6, 12, 24], PretrainBatch = 16, FineTuneSteps = 12, SegmentationSteps = 8, FineTuneBatch = 16,
            ClipSteps = 16, TestImages = 100, ZeroShotImages = 100, ProbeImages = 200, Warmup = 4,
        }
        : new EvaSettings();

    public IReadOnlyDictionary<string, object> Run(ExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var settings = Scale(options.Quick);
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
        var page = new EvaPage(results, teacherResult, settings, options.Quick, minutes);
        page.Write(options.ResultsPage);
        var headline = new Dictionary<string, object>(StringComparer.Ordinal) { ["minutes"] = Math.Round(minutes, 2), ["seeds"] = seeds };
        foreach (var claim in page.Claims())
            headline[claim.Claim] = claim.Verdict.ToString();
        return headline;
    }
}
