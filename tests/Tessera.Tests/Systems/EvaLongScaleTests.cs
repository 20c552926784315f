using System.Text.Json;
using Tessera.Engine.Random;
using Tessera.Models.Experiments;
using Tessera.Models.Systems.Eva;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>
/// <c>tessera experiment eva --long</c>: the long scale changes only what its sentence says, keeps
/// every claim's wording (the ledger pairs default and long verdicts by claim text, so a changed
/// pre-training length would silently unpair three claims), and its page and record say --long.
/// </summary>
public sealed class EvaLongScaleTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tessera-eva-long-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void LongScaleLengthensFineTuningAndClipAndScoresMoreImagesOnly()
    {
        var standard = EvaExperiment.Scale(quick: false);
        var heavier = EvaExperiment.Scale(quick: false, @long: true);
        heavier.Validate();
        Assert.True(heavier.SegmentationSteps >= 4 * standard.SegmentationSteps, "down-seg needs ~400 steps to leave the background-only floor");
        Assert.True(heavier.FineTuneSteps > standard.FineTuneSteps);
        Assert.True(heavier.ClipSteps > standard.ClipSteps);
        Assert.True(heavier.TestImages > standard.TestImages && heavier.ZeroShotImages > standard.ZeroShotImages);
        // Everything else, the teacher and the pre-training lengths included, is the default's.
        var reverted = heavier with
        {
            FineTuneSteps = standard.FineTuneSteps, SegmentationSteps = standard.SegmentationSteps, ClipSteps = standard.ClipSteps,
            TestImages = standard.TestImages, ZeroShotImages = standard.ZeroShotImages, PretrainSteps = standard.PretrainSteps,
        };
        Assert.Equal(JsonSerializer.Serialize(standard), JsonSerializer.Serialize(reverted)); // by value: the lists are new instances per record
        Assert.Equal(standard.PretrainSteps, heavier.PretrainSteps);

        string sentence = ExperimentCatalog.Find("eva").LongScale!;
        foreach (int value in new[] { heavier.SegmentationSteps, heavier.FineTuneSteps, heavier.ClipSteps, heavier.TestImages, heavier.ZeroShotImages })
            Assert.Contains(value.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void LongPageKeepsTheClaimsWordingAndSaysLongInItsCommandAndRecord()
    {
        var results = Enumerable.Range(0, 3).Select(s => FakeSeed((ulong)s)).ToList();
        var teacher = new TeacherResult(Curve(1.0), 17, 6, 60);
        var standard = new EvaPage(results, teacher, EvaExperiment.Scale(quick: false), quick: false, minutes: 1);
        var sentence = ExperimentCatalog.Find("eva").LongScale!;
        var heavier = new EvaPage(results, teacher, EvaExperiment.Scale(quick: false, @long: true), quick: false, minutes: 1) { LongScale = sentence };
        Assert.Equal(standard.Claims().Select(c => c.Claim), heavier.Claims().Select(c => c.Claim));

        string page = Path.Combine(_folder, ResultsLedger.LongFolder, "eva.md");
        heavier.Write(page);
        string text = File.ReadAllText(page);
        Assert.Contains("Command: `tessera experiment eva --long`", text, StringComparison.Ordinal);
        Assert.Contains("**Long scale (`--long`)**", text, StringComparison.Ordinal);
        Assert.Contains("down-shapes 600, down-textures 400, down-seg 300 test images", text, StringComparison.Ordinal);
        var record = ExperimentRecord.Read(ExperimentRecord.PathFor(page));
        Assert.Equal(sentence, record.LongScale);
        Assert.All(record.Claims, c => Assert.Equal("tessera experiment eva --long", c.Command));

        // A hand-written discussion under the generated part survives a rewrite, as on the default page.
        File.AppendAllText(page, "\n" + EvaPage.DiscussionHeading + "\n\nwhat separated\n");
        heavier.Write(page);
        Assert.EndsWith("what separated", File.ReadAllText(page).TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroShotScoresAtMostTheWholeTestSplitOfAFixedSuite()
    {
        // The long scale asks 2,000 zero-shot images: the captions source has them, down-shapes' test split has 600.
        var clip = new ClipModel(new ClipConfig { ImageWidth = 8, ImageDepth = 1, TextWidth = 8, TextDepth = 1, EmbedDim = 8 }, new Generator(1));
        clip.Freeze();
        var templates = ZeroShot.DefaultTemplates.Take(1).ToList();
        Assert.Equal(ZeroShot.Top1(clip, EvaArms.HeldOutZeroShot, 600, templates), ZeroShot.Top1(clip, EvaArms.HeldOutZeroShot, 2000, templates));
    }

    private static List<EvaPoint> Curve(double start) => Enumerable.Range(0, 40).Select(i => new EvaPoint(i, start - 0.01 * i + 0.02 * (i % 3))).ToList();

    /// <summary>A seed's results with made-up numbers (the page only reads them).</summary>
    private static EvaSeedResult FakeSeed(ulong seed)
    {
        double d = seed;
        var pretrain = new List<PretrainArm>();
        foreach (int steps in new[] { 40, 100, 200 })
            foreach (var objective in new[] { "MIM", "FD" })
                pretrain.Add(new PretrainArm(objective, steps, Curve(-0.5), new StudentProbe(0.8 + 0.01 * d, 0.9, 1.0), 22 + d + steps / 100.0, 25 - d, 10));
        var suites = new Dictionary<string, double> { ["down-shapes"] = 23 + d, ["down-textures"] = 35 - d };
        var rows = new[] { EvaArms.Scratch, EvaArms.TeacherTower, EvaArms.FdStudent, EvaArms.EvaStudentArm }
            .Select((arm, i) => new FineTuneRow(arm, suites, 12.5 + 0.1 * i + 0.2 * d, 20)).ToList();
        var clip = new[] { EvaArms.EvaClipArm, EvaArms.ScratchClipArm }.Select((arm, i) => new ClipArm(arm, Curve(3 - 0.1 * i), 20 - i + d, 8 + i, 30)).ToList();
        return new EvaSeedResult(seed, new StudentProbe(0.0, 0.87, 1.0), pretrain, rows, clip);
    }
}
