using System.Diagnostics;
using System.Text.Json;
using Tessera.Models.Experiments;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Intern;

/// <summary>
/// <c>tessera experiment intern</c>: INTERN (paper 000) at reduced scale on the procedural world.
/// Per seed: Up-A-G + Up-A-L from scratch on "captions", the supervised baseline (shapes-cls),
/// the three Up-E experts from Up-A (classification: shapes-cls, fine-cls, scenes-cls; detection:
/// objects-det, dense-det; segmentation: parts-seg, stuff-seg), Up-G with and without KTMs, Down-A
/// of each backbone at 10% and 100% (probe on down-shapes/-textures/-colours, heads on down-det,
/// down-seg, down-depth), and MF vs a plain fine-tune at 10%. Writes docs/results/intern.md (+ .json, SVG).
/// </summary>
public sealed class InternExperiment : IExperiment
{
    public string Name => "intern";

    public string Description => "INTERN Up-A / Up-E / Up-G with KTMs, Down-A at 10% and 100%, multi-stage fine-tuning (paper 000, Tables 1-3, 6)";

    /// <summary>The default (reported) scale, the smoke-test scale, or the long scale (<see cref="LongScale"/>).</summary>
    public static (InternSettings Settings, DownstreamSettings Downstream, MfSettings Mf) Scale(bool quick, bool @long = false) =>
        quick
        ? (new InternSettings { Batch = 12, DetectionBatch = 4, UpASteps = 12, UpALSteps = 3, ExpertSteps = 4, GeneralistSteps = 4, Warmup = 2, QueueSize = 24 },
            new DownstreamSettings(["down-shapes", "down-textures", "down-colours"], 100, 30, 4, 8, 16) { ProbeTrainCap = 120 },
            new MfSettings(4, 3, 3, 12))
        : @long
        ? (new InternSettings { UpASteps = 150, ExpertSteps = 160, GeneralistSteps = 160, UpALSteps = 40 },
            new DownstreamSettings(["down-shapes", "down-textures", "down-colours"], 600, 100, 120, 16, 200),
            new MfSettings(40, 40, 60, 16))
        : (new InternSettings { UpASteps = 150, ExpertSteps = 80, GeneralistSteps = 80, UpALSteps = 40 },
            new DownstreamSettings(["down-shapes", "down-textures", "down-colours"], 300, 100, 30, 16, 96),
            new MfSettings(40, 20, 30, 16));

    /// <inheritdoc/>
    public string? LongScale =>
        "Down-A's dense heads train 120 steps instead of 30 (at 30 every arm's detection AP50 is ~0 and segmentation sits at the background-only floor, so the CLS/DET/SEG average is CLS alone) and are scored on 200 test images instead of 96; "
        + "the probes score every test image (up to 600 per suite instead of 300); experts and Up-G train 160 steps instead of 80 (KTMs start at zero and need steps to carry anything); "
        + "MF's head and fine-tune stages run 40 and 60 steps instead of 20 and 30. Up-A is unchanged. About 2.5x the default's time.";

    public IReadOnlyDictionary<string, object> Run(ExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var (settings, downstream, mf) = Scale(options.Quick, options.Long);
        settings.Validate();
        UpAmateur.CheckContext(settings);
        int seeds = options.Seeds ?? (options.Quick ? 1 : 3);
        if (seeds < 1) throw new ArgumentOutOfRangeException(nameof(options), seeds, $"intern: '--seeds' expected at least 1, found {seeds}");
        Directory.CreateDirectory(options.OutputFolder);
        var results = new List<InternSeedResult>();
        for (int s = 0; s < seeds; s++)
        {
            options.Log($"seed {s}");
            var result = new InternArms(settings with { Seed = (ulong)s }, downstream, mf, options.Log).Run();
            results.Add(result);
            AtomicFile.WriteAllText(Path.Combine(options.OutputFolder, $"seed-{s}.json"), JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        }
        double minutes = clock.Elapsed.TotalMinutes;
        string command = $"dotnet run --project src/Cli -c Release -- experiment intern{options.ScaleFlags}";
        var page = new InternPage(results, settings, downstream, mf, options.Quick, minutes, command) { LongScale = options.Long ? LongScale : null };
        page.Write(options.ResultsPage);
        var headline = new Dictionary<string, object>(StringComparer.Ordinal) { ["minutes"] = Math.Round(minutes, 2), ["seeds"] = seeds };
        foreach (var arm in InternArms.ArmNames)
        {
            headline[$"{arm}/cls10"] = Math.Round(results.Average(r => r.Arm(arm).TenPercent.ClassificationAverage), 2);
            headline[$"{arm}/avg10"] = Math.Round(results.Average(r => r.Arm(arm).TenPercent.Average), 2);
        }
        foreach (var claim in page.Claims) headline["claim: " + claim.Claim] = ClaimRule.Label(claim.Verdict);
        return headline;
    }
}
