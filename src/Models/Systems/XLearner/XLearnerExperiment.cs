using System.Diagnostics;
using System.Text.Json;
using Tessera.Models.Experiments;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>The measured rows of one seed.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="Base">Base source set: single-source, hard sharing and the X-Learner family.</param>
/// <param name="Extended">With out-of-domain sources added: hard sharing and X-Learner.</param>
/// <param name="TeacherUpstream">The expanded X-Learner (before the squeeze) on the base sources.</param>
/// <param name="TeacherParameters">Its backbone parameters.</param>
public sealed record XLearnerSeedResult(ulong Seed, IReadOnlyList<ArmResult> Base, IReadOnlyList<ArmResult> Extended, IReadOnlyDictionary<string, double> TeacherUpstream, long TeacherParameters);

/// <summary>
/// <c>tessera experiment xlearner</c>: X-Learner (paper 004) at reduced scale on the procedural
/// world. Base sources: classification shapes-cls (ImageNet), fine-cls (iNat), scenes-cls (Places);
/// detection objects-det (COCO). Extended ("+ out-of-domain"): tags (noisy multi-label, dark and
/// blurred; in the classification group) and dense-det (blurred, tiny objects; detection group).
/// Arms: single-source (shapes-cls only, the "ImageNet supervised" row), hard sharing, X-Learner,
/// w/o Rec, X-Learner_t, X-Learner_p, X-Learner_r on the base set; hard sharing and X-Learner on
/// the extended set. Every final backbone is probed on down-shapes, down-textures, down-colours
/// (AVG Cls) and fine-tuned for detection on down-det. Writes docs/results/xlearner.md.
/// </summary>
public sealed class XLearnerExperiment : IExperiment
{
    public string Name => "xlearner";

    public string Description => "X-Learner expansion + squeeze vs hard sharing, variants and source scaling (paper 004, Tables 2/3/5/6)";

    /// <summary>The base source set of the experiment.</summary>
    public static IReadOnlyList<SourceSpec> BaseSources(int batch, int detectionBatch) =>
    [
        new("shapes-cls", "classification", "cls", batch),
        new("fine-cls", "classification", "cls", batch),
        new("scenes-cls", "classification", "cls", batch),
        new("objects-det", "detection", "det", detectionBatch),
    ];

    /// <summary>The base set plus the out-of-domain sources.</summary>
    public static IReadOnlyList<SourceSpec> ExtendedSources(int batch, int detectionBatch) =>
    [
        .. BaseSources(batch, detectionBatch),
        new("tags", "multi-label", "cls", batch),
        new("dense-det", "detection", "det", detectionBatch),
    ];

    /// <summary>The default (reported) scale, or the smoke-test scale.</summary>
    public static (XLearnerSettings Settings, DownstreamSettings Downstream, int Batch, int DetectionBatch) Scale(bool quick) => quick
        ? (new XLearnerSettings { Width = 8, HeadWidth = 16, Size = 32, ExpansionSteps = 12, Tau = 4, SqueezeSteps = 6, Warmup = 2, EvalBatches = 2, PruneRounds = 2 },
            new DownstreamSettings(["down-shapes", "down-textures", "down-colours"], 120, 100, 100, 6, 8, 32), 16, 8)
        : (new XLearnerSettings { Width = 8, HeadWidth = 16, Size = 48, ExpansionSteps = 200, Tau = 60, SqueezeSteps = 100, Warmup = 15, EvalBatches = 6, PruneRounds = 4 },
            new DownstreamSettings(["down-shapes", "down-textures", "down-colours"], 500, 400, 300, 320, 12, 144), 24, 12);

    public IReadOnlyDictionary<string, object> Run(ExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var (settings, downstream, batch, detectionBatch) = Scale(options.Quick);
        int seeds = options.Seeds ?? 1;
        Directory.CreateDirectory(options.OutputFolder);
        var results = new List<XLearnerSeedResult>();
        for (int s = 0; s < seeds; s++)
        {
            ulong seed = (ulong)s;
            var seeded = settings with { Seed = seed };
            options.Log($"seed {seed}: base sources ({string.Join(", ", BaseSources(batch, detectionBatch).Select(x => x.Source))})");
            var arms = new XLearnerArms(seeded, downstream, options.Log);
            var baseRows = new List<ArmResult>
            {
                arms.HardSharing("Single-source (shapes-cls)", [BaseSources(batch, detectionBatch)[0]]),
                arms.HardSharing("Hard-sharing", BaseSources(batch, detectionBatch)),
            };
            var family = arms.RunFamily(BaseSources(batch, detectionBatch), XLearnerArms.Variants.All);
            baseRows.AddRange(family.Arms);
            options.Log($"seed {seed}: extended sources (+ tags, + dense-det)");
            var extended = new List<ArmResult> { arms.HardSharing("Hard-sharing (+OOD)", ExtendedSources(batch, detectionBatch)) };
            extended.AddRange(arms.RunFamily(ExtendedSources(batch, detectionBatch), XLearnerArms.Variants.XLearner, " (+OOD)").Arms);
            var result = new XLearnerSeedResult(seed, baseRows, extended, family.TeacherUpstream, family.TeacherParameters);
            results.Add(result);
            AtomicFile.WriteAllText(Path.Combine(options.OutputFolder, $"seed-{seed}.json"), JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        }
        double minutes = clock.Elapsed.TotalMinutes;
        var page = new XLearnerPage(results, settings, downstream, batch, detectionBatch, options.Quick, minutes);
        page.Write(options.ResultsPage);
        var headline = new Dictionary<string, object>(StringComparer.Ordinal) { ["minutes"] = Math.Round(minutes, 2), ["seeds"] = seeds };
        foreach (var arm in results[0].Base.Concat(results[0].Extended).Select(a => a.Arm))
        {
            headline[$"{arm}/avg_cls"] = Math.Round(results.Average(r => r.Base.Concat(r.Extended).First(a => a.Arm == arm).Downstream.AverageClassification), 2);
            headline[$"{arm}/det_ap50"] = Math.Round(results.Average(r => r.Base.Concat(r.Extended).First(a => a.Arm == arm).Downstream.DetectionAp50), 2);
        }
        return headline;
    }
}
