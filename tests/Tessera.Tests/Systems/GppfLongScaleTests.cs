using System.Globalization;
using Tessera.Models.Experiments;
using Tessera.Models.Systems.Gppf;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>
/// GPPF's <c>--long</c> scale (longer SIMT and fine-tune schedules on the same network, down-shapes' whole
/// test split), its page and record, and <c>--reuse-seeds</c>: a page rebuilt from the saved seeds equals
/// the one the training run wrote.
/// </summary>
public sealed class GppfLongScaleTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tessera-gppf-long-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void LongScaleTrainsLongerOnTheSameNetworkAndSaysSo()
    {
        var standard = GppfExperiment.Scale(quick: false);
        var longer = GppfExperiment.Scale(quick: false, @long: true);
        Assert.Equal(standard with { Steps = longer.Steps, FinetuneSteps = longer.FinetuneSteps, EvalBatches = longer.EvalBatches, RecordEvery = longer.RecordEvery }, longer);
        Assert.Equal(3 * standard.Steps, longer.Steps);
        Assert.Equal(3 * standard.FinetuneSteps, longer.FinetuneSteps);
        // The routing picture keeps its number of columns; down-shapes' 600 test images are scored in full.
        Assert.Equal(standard.Steps / standard.RecordEvery, longer.Steps / longer.RecordEvery);
        Assert.Equal(600, longer.EvalBatches * longer.Batch);
        // The sentence on the page and in the record names the numbers the scale uses.
        string sentence = new GppfExperiment().LongScale!;
        foreach (int n in new[] { longer.Steps, longer.Steps * longer.Devices / GppfExperiment.Tasks.Count, longer.FinetuneSteps, longer.EvalBatches * longer.Batch })
            Assert.Contains(n.ToString("N0", CultureInfo.InvariantCulture), sentence, StringComparison.Ordinal);
    }

    [Fact]
    public void ReusedSeedsRebuildTheSamePageAndALongReportCarriesItsScale()
    {
        string runFolder = Path.Combine(_folder, "run"), page = Path.Combine(_folder, "gppf.md"), rebuilt = Path.Combine(_folder, "again", "gppf.md");
        var experiment = new GppfExperiment();
        experiment.Run(new ExperimentOptions(Quick: true, Seeds: 1, runFolder, page, _ => { }));
        Assert.True(File.Exists(Path.Combine(runFolder, "seed-0.json")));

        var log = new List<string>();
        experiment.Run(new ExperimentOptions(Quick: true, Seeds: 1, runFolder, rebuilt, log.Add, ReuseSeeds: true));
        Assert.Contains(log, l => l.Contains("reusing", StringComparison.Ordinal));
        // Every table and claim comes from the saved data alone; only the header lines (provenance, load) may differ.
        static string[] Body(string path) => File.ReadAllLines(path).SkipWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(Body(page), Body(rebuilt));
        Assert.Contains("Seeds reused (`--reuse-seeds`): seed 0: reused from", File.ReadAllText(rebuilt), StringComparison.Ordinal);

        // A seed trained with other settings is not reused: the key names the scale.
        var quick = GppfExperiment.Scale(quick: true);
        Assert.NotNull(SeedFile<GppfSeedResult>.TryRead(Path.Combine(runFolder, "seed-0.json"), GppfSeedKey.For(quick)));
        Assert.Null(SeedFile<GppfSeedResult>.TryRead(Path.Combine(runFolder, "seed-0.json"), GppfSeedKey.For(quick with { Steps = quick.Steps + 1 })));

        // The long report: its command says --long, the sentence heads the page and the record keeps it.
        var saved = SeedFile<GppfSeedResult>.TryRead(Path.Combine(runFolder, "seed-0.json"), GppfSeedKey.For(quick))!;
        string longPage = Path.Combine(_folder, "long", "gppf.md");
        var report = new GppfReport(quick, [saved.Result], 1.0, quick: false, "test", RunProvenance.Capture()) { LongScale = experiment.LongScale };
        report.Write(longPage);
        Assert.EndsWith("experiment gppf --long --seeds 1", report.Command, StringComparison.Ordinal);
        string text = File.ReadAllText(longPage);
        Assert.Contains("**Long scale (`--long`)**", text, StringComparison.Ordinal);
        Assert.Contains("[ledger](../README.md)", text, StringComparison.Ordinal);
        Assert.Contains("## What the long scale separates", text, StringComparison.Ordinal);
        Assert.Equal(experiment.LongScale, ExperimentRecord.Read(ExperimentRecord.PathFor(longPage)).LongScale);
    }
}
