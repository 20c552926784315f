using Tessera.Models.Training;
using Xunit;

namespace Tessera.Tests.Training;

/// <summary>The soak test's pieces: the resource sampler's CSV and the growth it is judged by.</summary>
public sealed class SoakReportTests
{
    [Fact]
    public void SamplerWritesParsableLinesWithThisProcessResources()
    {
        string path = Path.Combine(TrainingFixtures.TempFolder(), "resources.csv");
        using (var sampler = new ResourceSampler(path, TimeSpan.FromHours(1)))
        {
            sampler.Step = 42;
            sampler.Sample();
        }
        var samples = SoakReport.ReadCsv(path);
        Assert.True(samples.Count >= 3, $"expected the first, the explicit and the closing sample, found {samples.Count}");
        Assert.Equal(42, samples[^1].Step);
        Assert.All(samples, s => Assert.True(s.ResidentBytes > 0 && s.GcHeapBytes > 0 && s.Threads > 0, s.ToCsv()));
        if (OperatingSystem.IsLinux()) Assert.All(samples, s => Assert.True(s.OpenFiles > 0, s.ToCsv()));
    }

    [Fact]
    public void GrowthComparesWindowMeansAfterWarmupAndToleratesACutLastLine()
    {
        string folder = TrainingFixtures.TempFolder();
        string path = Path.Combine(folder, "resources.csv");
        var lines = new List<string> { ResourceSample.CsvHeader };
        // Warm-up: memory climbs to 100 MB; then flat at 100 MB until minute 30, rising to 110 MB in the last 5 minutes.
        for (int t = 0; t <= 3600; t += 10)
        {
            long rss = t < 600 ? 10_000_000 + t * 150_000L : t < 3300 ? 100_000_000 : 110_000_000;
            lines.Add(new ResourceSample(t, t, rss, 50_000_000, 60_000_000, 1000, 90, 12).ToCsv());
        }
        lines.Add("3610.0,3610,1100"); // killed mid-line
        File.WriteAllLines(path, lines);
        string text = SoakReport.Write(path, folder, warmupSeconds: 600, windowSeconds: 300);
        var growth = SoakReport.Growth(SoakReport.ReadCsv(path), 600, 300).ToDictionary(g => g.Name);
        Assert.Equal(10.0, growth["rss_bytes"].GrowthPercent, 6);
        Assert.Equal(0.0, growth["gc_heap_bytes"].GrowthPercent, 6);
        Assert.Equal(90, growth["open_files"].Max);
        Assert.Contains("| rss_bytes | 95.4 MiB | 104.9 MiB | +10.0% |", text, StringComparison.Ordinal);
        var overlapping = Assert.Throws<ArgumentException>(() => SoakReport.Growth(SoakReport.ReadCsv(path), 600, 1800));
        Assert.Contains("shorter than two 30-min windows", overlapping.Message, StringComparison.Ordinal);
        Assert.Contains("<svg", File.ReadAllText(Path.Combine(folder, "resources.svg")), StringComparison.Ordinal);
        Assert.True(new FileInfo(Path.Combine(folder, "resources.png")).Length > 1000);
    }

    [Fact]
    public void ALogThatIsNotAResourceLogIsRefusedWithWhatWasExpected()
    {
        string path = Path.Combine(TrainingFixtures.TempFolder(), "other.csv");
        File.WriteAllText(path, "a,b,c\n1,2,3\n");
        var error = Assert.Throws<InvalidDataException>(() => SoakReport.ReadCsv(path));
        Assert.Contains("--resource-log", error.Message, StringComparison.Ordinal);
        File.WriteAllText(path, ResourceSample.CsvHeader + "\n" + new ResourceSample(0, 0, 1, 1, 1, 0, 1, 1).ToCsv() + "\n");
        var tooShort = Assert.Throws<ArgumentException>(() => SoakReport.Growth(SoakReport.ReadCsv(path), 600, 300));
        Assert.Contains("--warmup", tooShort.Message, StringComparison.Ordinal);
    }
}
