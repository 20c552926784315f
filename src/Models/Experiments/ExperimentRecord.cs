using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Models.Training;

namespace Tessera.Models.Experiments;

/// <summary>
/// One paper claim as measured: the row of the results ledger (docs/results/README.md).
/// </summary>
/// <param name="System">gppf, xlearner, intern, hvp-mtl, eva.</param>
/// <param name="Claim">The claim in words ("Up-G beats Up-E on average downstream").</param>
/// <param name="Paper">The paper's own figure for it ("Table 1: CLS-AVG 74.3 vs 73.0").</param>
/// <param name="Ours">Our numbers, mean ± std over seeds ("61.2 ± 1.3 vs 58.0 ± 0.9").</param>
/// <param name="Verdict">By <see cref="ClaimRule"/>.</param>
/// <param name="Gap">Signed so that positive is the paper's direction (NaN where not measured).</param>
/// <param name="StandardError">Of the gap (NaN where none).</param>
/// <param name="ErrorBasis">How the error was computed.</param>
/// <param name="Command">The command that measures it.</param>
/// <param name="Why">Our reading where it misses (or null).</param>
public sealed record ClaimRecord(string System, string Claim, string Paper, string Ours, ClaimVerdict Verdict,
    double Gap, double StandardError, string ErrorBasis, string Command, string? Why = null)
{
    /// <summary>A record from a judgement.</summary>
    public static ClaimRecord From(string system, string claim, string paper, string ours, ClaimJudgement judgement, string command, string? why = null) =>
        new(system, claim, paper, ours, judgement.Verdict, judgement.Gap, judgement.StandardError, judgement.ErrorBasis, command, why);

    /// <summary>
    /// One bullet for a results page: verdict, claim, our numbers, the gap with its SE and how the SE
    /// was computed, the paper's figure, our reading where it misses; for a tie over several seeds,
    /// how many seeds the same spread would need to separate it (<see cref="ClaimRule.SeedsToSeparate"/>).
    /// </summary>
    public string ToMarkdown(int seeds)
    {
        var judgement = new ClaimJudgement(Gap, StandardError, Verdict, ErrorBasis);
        string separate = Verdict == ClaimVerdict.Tie && ClaimRule.SeedsToSeparate(judgement, seeds) is int n
            ? $" At this per-seed spread the gap would need about {n} seeds to clear 2 SE."
            : "";
        return $"- **{judgement.Label}**: {Claim}. Ours: {Ours}; gap {judgement.Describe("0.00")}. Paper: {Paper}.{(Why is null ? "" : " Our reading: " + Why)}{separate}";
    }
}

/// <summary>
/// What an experiment run writes beside its Markdown page (<c>docs/results/NAME.json</c>): its
/// provenance and every claim it judged. The ledger is generated from these files.
/// </summary>
public sealed record ExperimentRecord(string System, string Command, string Commit, string Date, string Machine, int Cores,
    int Seeds, double WallMinutes, IReadOnlyDictionary<string, double> ArmMinutes, IReadOnlyList<ClaimRecord> Claims, bool Quick = false)
{
    /// <summary>For a <c>--long</c> run: what it changed against the default scale (<see cref="IExperiment.LongScale"/>); null for the default scale.</summary>
    public string? LongScale { get; init; }

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        // The records are committed beside the pages and read by people too: keep ±, √, → readable.
        Encoder = global::System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The JSON path that goes with a results page: "docs/results/eva.md" → "docs/results/eva.json".</summary>
    public static string PathFor(string resultsPage) => Path.ChangeExtension(resultsPage, ".json");

    /// <summary>Writes the record atomically (temp file, then rename).</summary>
    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, s_json) + "\n");

    /// <summary>Reads a record; a file that is not one is a clear error naming it.</summary>
    public static ExperimentRecord Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ExperimentRecord>(File.ReadAllText(path), s_json)
                   ?? throw new InvalidDataException($"{path}: expected an experiment record (JSON object), found null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: expected an experiment record written by `tessera experiment`, found invalid JSON ({e.Message}); re-run the experiment to rewrite it", e);
        }
    }
}

/// <summary>Where and when a result was measured: commit, UTC date, CPU model, cores (for results pages).</summary>
public sealed record RunProvenance(string Commit, string Date, string Machine, int Cores)
{
    private static string? s_startCommit;

    /// <summary>
    /// Records the commit now, at the start of a run: pages are written at the end, and a commit
    /// made while the run trained must not be named as the code that was measured.
    /// <c>tessera experiment</c> calls this before it starts the experiment.
    /// </summary>
    public static void MarkStart() => s_startCommit = GitCommit();

    /// <summary>
    /// The commit (the one recorded by <see cref="MarkStart"/> if it was called, else the current
    /// one; git, or "unknown"), the date, /proc/cpuinfo's model name and the core count.
    /// </summary>
    public static RunProvenance Capture() =>
        new(s_startCommit ?? GitCommit(), DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"), Engine.CpuInfo.Model, Environment.ProcessorCount);

    /// <summary>"commit abc1234, 2026-12-07 18:40 UTC, AMD EPYC (2 cores)": one line for a page header.</summary>
    public override string ToString() => $"commit {Commit}, {Date}, {Machine} ({Cores} cores)";

    private static string GitCommit()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            });
            if (git is null) return "unknown";
            string output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit(5000);
            if (git.ExitCode != 0 || output.Length == 0) return "unknown";
            using var status = Process.Start(new ProcessStartInfo("git", "status --porcelain --untracked-files=no")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            });
            string dirty = status?.StandardOutput.ReadToEnd().Trim() ?? "";
            status?.WaitForExit(5000);
            return dirty.Length > 0 ? output + " (with uncommitted changes)" : output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
