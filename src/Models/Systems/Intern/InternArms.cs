using System.Diagnostics;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Intern;

/// <summary>One arm's Down-A scores at 10% and 100% of the downstream training data.</summary>
public sealed record ArmScores(string Arm, DownstreamScores TenPercent, DownstreamScores Full);

/// <summary>Everything one seed measured.</summary>
/// <param name="Arms">Rows of the table (supervised, Up-A, the three experts, Up-G, Up-G w/o KTM).</param>
/// <param name="Curves">Loss curve of every stage.</param>
/// <param name="Spikes">Loss-spike guard triggers of Up-A-G.</param>
/// <param name="MfAccuracy">MF test accuracy (%) per classification suite at 10%.</param>
/// <param name="PlainAccuracy">Plain fine-tune test accuracy (%) per suite at 10%.</param>
/// <param name="Seconds">Wall seconds per arm.</param>
/// <param name="FinalTemperature">Up-A-G's learned temperature at the end.</param>
public sealed record InternSeedResult(ulong Seed, IReadOnlyList<ArmScores> Arms, IReadOnlyDictionary<string, IReadOnlyList<LossPoint>> Curves,
    IReadOnlyList<SpikeEvent> Spikes, IReadOnlyDictionary<string, double> MfAccuracy, IReadOnlyDictionary<string, double> PlainAccuracy,
    IReadOnlyDictionary<string, double> Seconds, double FinalTemperature)
{
    public ArmScores Arm(string name) => Arms.First(a => a.Arm == name);
}

/// <summary>
/// One seed of <c>tessera experiment intern</c>: Up-A-G, Up-A-L, the supervised baseline, the three
/// Up-E experts, Up-G with and without KTMs, Down-A of every backbone at 10% and 100%, and MF
/// against a plain fine-tune at 10% on the classification suites (Up-G backbone).
/// </summary>
public sealed class InternArms(InternSettings settings, DownstreamSettings downstream, MfSettings mf, Action<string> log)
{
    public static readonly string[] ArmNames = ["Supervised (shapes-cls)", "Up-A", "Up-E (C)", "Up-E (D)", "Up-E (S)", "Up-G", "Up-G w/o KTM"];

    public InternSeedResult Run()
    {
        var sources = InternSettings.DefaultSources;
        var curves = new Dictionary<string, IReadOnlyList<LossPoint>>(StringComparer.Ordinal);
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        var arms = new List<ArmScores>();
        var clock = Stopwatch.StartNew();
        void Lap(string arm)
        {
            seconds[arm] = seconds.GetValueOrDefault(arm) + clock.Elapsed.TotalSeconds;
            clock.Restart();
        }
        ArmScores Measure(string arm, IInternBackbone backbone)
        {
            log($"  {arm}: Down-A");
            var scores = new ArmScores(arm,
                DownstreamA.Evaluate(backbone, downstream, settings.Size, 0.1, settings.Seed, log),
                DownstreamA.Evaluate(backbone, downstream, settings.Size, 1.0, settings.Seed, log));
            arms.Add(scores);
            Lap(arm);
            return scores;
        }

        log("  Up-A-G (image-text contrastive, ICS + STS)");
        var upA = new UpAmateur(settings);
        var upACurve = upA.Run(settings.UpASteps, log);
        curves["Up-A-G"] = upACurve.Select(s => new LossPoint(s.Step, s.Loss)).ToList();
        log("  Up-A-L (region BYOL on the frozen Up-A backbone)");
        curves["Up-A-L"] = new UpLocal(upA.Model.Image, settings).Run(settings.UpALSteps, log);
        Lap("Up-A");
        Measure("Up-A", new ExpertTrunk(upA.Model.Image, null, InternTasks.Stream(settings.Seed, 2)));

        log("  supervised baseline (shapes-cls only)");
        var (supervised, supervisedCurve) = InternStages.TrainSupervised(settings, log);
        curves["Supervised"] = supervisedCurve;
        Lap("Supervised (shapes-cls)");
        Measure("Supervised (shapes-cls)", supervised);

        var experts = new List<ExpertTrunk>();
        var expertModels = new List<MultiTaskModel>();
        foreach (var (type, arm) in new[] { (TaskType.Classification, "Up-E (C)"), (TaskType.Detection, "Up-E (D)"), (TaskType.Segmentation, "Up-E (S)") })
        {
            var (trunk, model, curve) = InternStages.TrainExpert(type, upA.Model.Image, sources, settings, log);
            experts.Add(trunk);
            expertModels.Add(model);
            curves[arm] = curve;
            Lap(arm);
            Measure(arm, trunk);
        }

        GeneralistBackbone? generalist = null;
        foreach (var (useKtm, arm) in new[] { (true, "Up-G"), (false, "Up-G w/o KTM") })
        {
            var (backbone, _, curve) = InternStages.TrainGeneralist(experts, expertModels, sources, settings, useKtm, log);
            curves[arm] = curve;
            Lap(arm);
            Measure(arm, backbone);
            if (useKtm) generalist = backbone;
        }

        log("  MF vs plain fine-tune (Up-G, 10%)");
        var (vq, vqCurve) = MultiStageFineTuning.TrainVqGan(settings, mf, log);
        curves["MF VQ-GAN (L1)"] = vqCurve.Select((v, i) => new LossPoint(i, v)).ToList();
        var mfAccuracy = new Dictionary<string, double>(StringComparer.Ordinal);
        var plainAccuracy = new Dictionary<string, double>(StringComparer.Ordinal);
        IInternBackbone Copy() => InternStages.CloneGeneralist(generalist!, settings);
        foreach (var suite in downstream.ProbeSuites)
        {
            mfAccuracy[suite] = MultiStageFineTuning.Run(Copy, Copy, vq, suite, settings, mf, downstream.ProbeTest, settings.Seed);
            plainAccuracy[suite] = MultiStageFineTuning.Run(Copy, Copy, null, suite, settings, mf, downstream.ProbeTest, settings.Seed);
            log(FormattableString.Invariant($"    {suite}: MF {mfAccuracy[suite]:F1}, plain fine-tune {plainAccuracy[suite]:F1}"));
        }
        Lap("MF (10%)");
        return new InternSeedResult(settings.Seed, arms, curves, upA.Guard.Events.ToList(), mfAccuracy, plainAccuracy, seconds, upACurve[^1].Temperature);
    }
}
