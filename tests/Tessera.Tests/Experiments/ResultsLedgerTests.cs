using Tessera.Models.Experiments;
using Xunit;

namespace Tessera.Tests.Experiments;

/// <summary>The results ledger generated from constructed experiment records in a temporary folder.</summary>
public sealed class ResultsLedgerTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tessera-ledger-" + Guid.NewGuid().ToString("N"));

    public ResultsLedgerTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ExperimentRecord Record(string system, params ClaimRecord[] claims) =>
        new(system, $"dotnet run --project src/Cli -c Release -- experiment {system}", "abc1234", "2026-12-07 19:00 UTC", "Test CPU", 2, 3, 12.5,
            new Dictionary<string, double> { ["arm"] = 1.5 }, claims);

    private static ClaimRecord Claim(string system, string claim, ClaimJudgement judgement) =>
        ClaimRecord.From(system, claim, "Table 1: 1.0 vs 0.5", "2.0 ± 0.1 vs 1.0 ± 0.2", judgement, $"experiment {system}", judgement.Verdict == ClaimVerdict.Holds ? null : "small scale");

    /// <summary>Writes a record and the page it belongs to (the ledger reads only JSON files that sit beside a page).</summary>
    private void Save(ExperimentRecord record)
    {
        record.Write(Path.Combine(_folder, record.System + ".json"));
        File.WriteAllText(Path.Combine(_folder, record.System + ".md"), "# page\n");
    }

    [Fact]
    public void ListsMeasuredClaimsAndCataloguedOnesAsNotYetRun()
    {
        Save(Record("gppf",
            Claim("gppf", "A beats B", ClaimRule.Better([3.0, 3.1, 2.9], [1.0, 1.0, 1.0])),
            Claim("gppf", "C | D ties", ClaimRule.Better([1.0, 2.0, 0.0], [1.0, 1.0, 1.0])),
            Claim("gppf", "E beats F", ClaimRule.Better([0.0, 0.1, 0.0], [1.0, 1.0, 1.0]))));
        File.WriteAllText(Path.Combine(_folder, "seed-0.json"), "{\"not\": \"a record\"}"); // a run's raw output: no page beside it
        File.WriteAllText(Path.Combine(_folder, "hvp-mtl.md"), "# an older page, written before records existed\n");

        string path = ResultsLedger.Write(_folder);
        Assert.Equal(Path.Combine(_folder, "README.md"), path);
        string text = File.ReadAllText(path);
        var lines = text.Split('\n');

        // The rule is stated once, with how the error is computed.
        Assert.Contains("## How a verdict is reached", text, StringComparison.Ordinal);
        Assert.Contains("SE = sample standard deviation of those differences / √n", text, StringComparison.Ordinal);

        // The measured system: counts and one row per claim with its verdict; a pipe in a claim is escaped.
        Assert.Contains(lines, l => l.StartsWith("| gppf | 001 GPPF | [gppf.md](gppf.md) | 1 | 1 | 1 | 0 | 3 | commit abc1234, 2026-12-07 19:00 UTC, Test CPU (2 cores), 12.5 min wall |", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("| gppf | A beats B |", StringComparison.Ordinal) && l.Contains("| **holds** |", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("| gppf | C \\| D ties |", StringComparison.Ordinal) && l.Contains("| tie |", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("| gppf | E beats F |", StringComparison.Ordinal) && l.Contains("| **does not hold** |", StringComparison.Ordinal));

        // Systems without a record: every catalogued claim, "not yet run", in paper order.
        var intern = ClaimCatalogue.Find("intern")!;
        Assert.Contains(lines, l => l.StartsWith($"| intern | 000 INTERN | – | 0 | 0 | 0 | {intern.Claims.Count} | – | not yet run |", StringComparison.Ordinal));
        foreach (var claim in intern.Claims)
            Assert.Contains(lines, l => l.StartsWith($"| intern | {claim.Claim} |", StringComparison.Ordinal) && l.Contains("| not yet run |", StringComparison.Ordinal));
        // A page without a record: linked, its claims not yet judged by the rule.
        Assert.Contains(lines, l => l.StartsWith("| hvp-mtl | 002 HVP-MTL | [hvp-mtl.md](hvp-mtl.md) | 0 | 0 | 0 | 6 | – | not yet run under the shared rule", StringComparison.Ordinal));
        int Row(string system) => Array.FindIndex(lines, l => l.StartsWith($"| {system} | 00", StringComparison.Ordinal));
        Assert.True(Row("intern") < Row("gppf") && Row("gppf") < Row("hvp-mtl") && Row("hvp-mtl") < Row("eva") && Row("eva") < Row("xlearner"));
    }

    [Fact]
    public void ASystemOutsideTheCatalogueIsListedAfterTheFive()
    {
        Save(Record("newsys", Claim("newsys", "X beats Y", ClaimRule.Better([2.0], [1.0]))));
        string text = ResultsLedger.Render(ResultsLedger.ReadAll(_folder));
        Assert.Contains("| newsys | X beats Y |", text, StringComparison.Ordinal);
        Assert.True(text.IndexOf("| newsys | X beats Y |", StringComparison.Ordinal) > text.IndexOf("| xlearner | ", StringComparison.Ordinal));
        Assert.Contains("+1.00 (no SE)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ABrokenRecordIsAnErrorNamingTheFile()
    {
        File.WriteAllText(Path.Combine(_folder, "eva.json"), "{ this is not json");
        File.WriteAllText(Path.Combine(_folder, "eva.md"), "# page\n");
        var error = Assert.Throws<InvalidDataException>(() => ResultsLedger.Write(_folder));
        Assert.Contains("eva.json", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_folder, "README.md")));
    }

    [Fact]
    public void TwoRecordsOfOneSystemAreAnError()
    {
        var error = Assert.Throws<InvalidDataException>(() => ResultsLedger.Render([Record("gppf"), Record("GPPF")]));
        Assert.Contains("gppf", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AMissingFolderIsAClearError()
    {
        var error = Assert.Throws<DirectoryNotFoundException>(() => ResultsLedger.Write(Path.Combine(_folder, "absent")));
        Assert.Contains("absent", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryExperimentClaimIsCatalogued()
    {
        // GPPF and X-Learner take each claim's paper figure from the catalogue; a claim worded differently would throw there.
        Assert.Throws<ArgumentException>(() => ClaimCatalogue.Paper("gppf", "a claim nobody made"));
        Assert.Throws<ArgumentException>(() => ClaimCatalogue.Paper("nosuch", "x"));
        Assert.StartsWith("Table 6", ClaimCatalogue.Paper("xlearner", "X-Learner beats hard sharing downstream (AVG Cls)"), StringComparison.Ordinal);
        Assert.Equal(5, ClaimCatalogue.Systems.Count);
        Assert.All(ClaimCatalogue.Systems, s => Assert.NotEmpty(s.Claims));
    }

    [Fact]
    public void LongRunsAreSetBesideTheDefaultScalesTies()
    {
        Save(Record("gppf",
            Claim("gppf", "A beats B", ClaimRule.Better([3.0, 3.1, 2.9], [1.0, 1.0, 1.0])),    // holds, and still holds: not listed
            Claim("gppf", "C beats D", ClaimRule.Better([1.0, 2.0, 0.0], [1.0, 1.0, 1.0])),    // tie → holds
            Claim("gppf", "E beats F", ClaimRule.Better([2.0, 2.1, 1.9], [1.0, 1.0, 1.0])),    // holds → tie: a flip is listed too
            Claim("gppf", "G beats H", ClaimRule.Better([1.0, 2.0, 0.0], [1.0, 1.0, 1.0]))));  // tie, not measured at the long scale
        Save(Record("eva", Claim("eva", "I beats J", ClaimRule.Better([1.0, 2.0, 0.0], [1.0, 1.0, 1.0]))));
        string longFolder = Path.Combine(_folder, ResultsLedger.LongFolder);
        Directory.CreateDirectory(longFolder);
        var longRecord = Record("gppf",
            Claim("gppf", "A beats B", ClaimRule.Better([3.0, 3.1, 2.9], [1.0, 1.0, 1.0])),
            Claim("gppf", "C beats D", ClaimRule.Better([3.0, 3.2, 2.8], [1.0, 1.0, 1.0])),
            Claim("gppf", "E beats F", ClaimRule.Better([1.0, 2.0, 0.0], [1.0, 1.0, 1.0]))) with { Command = "experiment gppf --long" };
        (longRecord with { LongScale = "heads train 4x longer" }).Write(Path.Combine(longFolder, "gppf.json"));
        File.WriteAllText(Path.Combine(longFolder, "gppf.md"), "# long page\n");

        var lines = File.ReadAllText(ResultsLedger.Write(_folder)).Split('\n');
        int section = Array.IndexOf(lines, "## Ties at the default scale, re-run at the long scale");
        Assert.True(section > 0);
        var after = lines[section..];
        Assert.Contains(after, l => l.StartsWith("- **gppf** ([long/gppf.md](long/gppf.md), `experiment gppf --long`", StringComparison.Ordinal) && l.EndsWith("heads train 4x longer", StringComparison.Ordinal));
        Assert.Contains(after, l => l.StartsWith("- **eva**: 1 ties at the default scale; not re-run at the long scale yet (`--long` exists).", StringComparison.Ordinal));
        Assert.Contains(after, l => l.StartsWith("| gppf | C beats D | 0.00 ± 0.58 | tie |", StringComparison.Ordinal) && l.EndsWith("| **holds** |", StringComparison.Ordinal));
        Assert.Contains(after, l => l.StartsWith("| gppf | E beats F |", StringComparison.Ordinal) && l.Contains("| **holds** |", StringComparison.Ordinal) && l.EndsWith("| tie |", StringComparison.Ordinal));
        Assert.Contains(after, l => l.StartsWith("| gppf | G beats H |", StringComparison.Ordinal) && l.Contains("not measured at the long scale", StringComparison.Ordinal));
        Assert.DoesNotContain(after, l => l.StartsWith("| gppf | A beats B |", StringComparison.Ordinal));
        Assert.DoesNotContain(after, l => l.StartsWith("| eva | I beats J |", StringComparison.Ordinal));
    }

    [Fact]
    public void ScaleFlagsNameTheScaleAndSeeds()
    {
        static ExperimentOptions Options(bool quick, bool @long, int? seeds) => new(quick, seeds, "out", "page.md", _ => { }, Long: @long);
        Assert.Equal("", Options(false, false, null).ScaleFlags);
        Assert.Equal(" --long --seeds 4", Options(false, true, 4).ScaleFlags);
        Assert.Equal(" --quick", Options(true, false, null).ScaleFlags);
        Assert.Equal("long", Options(false, true, null).ScaleName);
    }

    [Fact]
    public void AGapThatRoundsToZeroPrintsWithoutTwoSigns()
    {
        // A tiny negative gap rounds to zero: .NET would print "-+0.00" from a two-section format.
        Save(Record("gppf", Claim("gppf", "A beats B", ClaimRule.Better([1.0, 1.0, 1.0], [1.001, 1.002, 1.0]))));
        string text = ResultsLedger.Render(ResultsLedger.ReadAll(_folder));
        Assert.Contains("| 0.00 ± 0.00 |", text, StringComparison.Ordinal);
        Assert.DoesNotContain("-+", text, StringComparison.Ordinal);
    }
}
