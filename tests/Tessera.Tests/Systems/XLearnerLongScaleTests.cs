using System.Text.Json;
using Tessera.Models.Experiments;
using Tessera.Models.Systems.XLearner;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary><c>tessera experiment xlearner --long</c>: what the long scale changes, and a page and record that say so (constructed results, no training).</summary>
public sealed class XLearnerLongScaleTests
{
    [Fact]
    public void TheLongScaleChangesOnlyTheStatedLevers()
    {
        var (settings, downstream, batch, detectionBatch) = XLearnerExperiment.Scale(quick: false);
        var (longSettings, longDownstream, longBatch, longDetectionBatch) = XLearnerExperiment.Scale(quick: false, @long: true);
        longSettings.Validate();
        // Pre-training is the default's: only the squeeze and the downstream evaluation grow (JSON: the records hold a list).
        Assert.Equal(JsonSerializer.Serialize(settings with { SqueezeSteps = longSettings.SqueezeSteps }), JsonSerializer.Serialize(longSettings));
        Assert.Equal((batch, detectionBatch), (longBatch, longDetectionBatch));
        Assert.Equal(2 * settings.SqueezeSteps, longSettings.SqueezeSteps);
        Assert.Equal(3 * downstream.DetectionSteps, longDownstream.DetectionSteps);
        Assert.Equal(downstream.ProbeSuites, longDownstream.ProbeSuites);
        Assert.Equal((downstream.ProbeIterations, downstream.DetectionBatch), (longDownstream.ProbeIterations, longDownstream.DetectionBatch));
        // "Every image of each suite" and "all 300 test images" are true of the world's splits.
        Assert.Equal("1,200 / 800 / 1,200", Downstream.DescribeImages(longDownstream, "train"));
        Assert.Equal("600 / 400 / 600", Downstream.DescribeImages(longDownstream, "test"));
        Assert.Equal("400", Downstream.DescribeImages(downstream, "test"));
        Assert.Equal(300, Tessera.Models.Data.World.WorldGenerator.SplitLength(Tessera.Models.Data.World.WorldSources.Get("down-det"), "test", 0));
        Assert.Equal(300, longDownstream.DetectionTest);
        // The sentence states the numbers the settings use.
        string sentence = new XLearnerExperiment().LongScale!;
        foreach (var number in new[] { longDownstream.DetectionSteps, downstream.DetectionSteps, longDownstream.DetectionTest, downstream.DetectionTest, longSettings.SqueezeSteps, settings.SqueezeSteps })
            Assert.Contains($"{number} ", sentence, StringComparison.Ordinal);
        Assert.Contains("1,200 / 800 / 1,200 train and 600 / 400 / 600 test", sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void ALongPageAndItsRecordCarryTheLongScale()
    {
        string folder = Path.Combine(Path.GetTempPath(), "tessera-xl-long-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (settings, downstream, batch, detectionBatch) = XLearnerExperiment.Scale(quick: false, @long: true);
            var results = new[] { Seed(0, 1.0), Seed(1, -1.0), Seed(2, 0.5) };
            var provenance = new RunProvenance("abc1234", "2026-12-08 00:00 UTC", "test machine", 2);
            string sentence = new XLearnerExperiment().LongScale!;
            string path = Path.Combine(folder, "long", "xlearner.md");
            new XLearnerPage(results, settings, downstream, batch, detectionBatch, quick: false, minutes: 12.3, provenance, ["seed 0: trained in this run"]) { LongScale = sentence }.Write(path);

            string page = File.ReadAllText(path);
            Assert.Contains("**Long scale (`--long`)**", page, StringComparison.Ordinal);
            Assert.Contains(sentence, page, StringComparison.Ordinal);
            Assert.Contains("Command: `dotnet run --project src/Cli -c Release -- experiment xlearner --long`", page, StringComparison.Ordinal);
            Assert.Contains("1,200 / 800 / 1,200 train / 600 / 400 / 600 test images", page, StringComparison.Ordinal);
            Assert.Contains("fine-tuned 960 steps (batch 12) on down-det, mAP/AP50 on 300 test images", page, StringComparison.Ordinal);
            var record = ExperimentRecord.Read(ExperimentRecord.PathFor(path));
            Assert.Equal(sentence, record.LongScale);
            Assert.EndsWith("experiment xlearner --long", record.Command, StringComparison.Ordinal);
            Assert.All(record.Claims, c => Assert.EndsWith("--long", c.Command, StringComparison.Ordinal));

            // The default scale's page says neither.
            string defaultPath = Path.Combine(folder, "xlearner.md");
            var (d, dd, db, ddb) = XLearnerExperiment.Scale(quick: false);
            new XLearnerPage(results, d, dd, db, ddb, quick: false, minutes: 5, provenance, ["seed 0: trained in this run"]).Write(defaultPath);
            Assert.DoesNotContain("--long", File.ReadAllText(defaultPath), StringComparison.Ordinal);
            Assert.Null(ExperimentRecord.Read(ExperimentRecord.PathFor(defaultPath)).LongScale);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    private static readonly string[] Suites = ["down-shapes", "down-textures", "down-colours"];

    private static ArmResult Arm(string name, double avgCls)
    {
        var curve = new List<CurvePoint> { new(0, 2.0), new(1, 1.5), new(2, 1.2) };
        var curves = new Dictionary<string, IReadOnlyList<CurvePoint>> { ["train"] = curve, ["alone"] = curve, ["joint"] = curve, ["squeeze"] = curve };
        var upstream = new Dictionary<string, double>
        {
            ["shapes-cls/top1"] = 0.2, ["fine-cls/top1"] = 0.1, ["scenes-cls/top1"] = 0.9, ["objects-det/mAP"] = 0.01, ["tags/mAP"] = 0.3, ["dense-det/mAP"] = 0.0,
        };
        return new ArmResult(name, upstream, new DownstreamResult(Suites.ToDictionary(s => s, _ => avgCls), 4, 10), 20_584, 60, curves);
    }

    private static XLearnerSeedResult Seed(ulong seed, double offset) => new(seed,
        [
            Arm("Single-source (shapes-cls)", 30 + offset), Arm("Hard-sharing", 35 + offset), Arm("X-Learner", 38 + offset), Arm("X-Learner_p", 43 + offset),
            Arm("X-Learner w/o Rec", 37 + offset), Arm("X-Learner_t", 37.5 + offset), Arm("X-Learner_r", 41 + offset),
        ],
        [Arm("Hard-sharing (+OOD)", 35), Arm("X-Learner (+OOD)", 37)],
        new Dictionary<string, double> { ["shapes-cls/top1"] = 0.2, ["fine-cls/top1"] = 0.1, ["scenes-cls/top1"] = 0.99, ["objects-det/mAP"] = 0.01 }, 68_400);
}
