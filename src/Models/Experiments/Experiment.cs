namespace Tessera.Models.Experiments;

/// <summary>How an experiment is run: <c>tessera experiment NAME [--quick] [--seeds N] [--out DIR]</c>.</summary>
/// <param name="Quick">A smoke-test scale of a few minutes (CI runs it); the default scale is the reported one.</param>
/// <param name="Seeds">Seeds per table cell (the experiment's own default when null).</param>
/// <param name="OutputFolder">Where the run writes its logs and raw results (runs/experiment-NAME by default).</param>
/// <param name="ResultsPage">The Markdown page the experiment writes (docs/results/NAME.md by default; quick runs write into OutputFolder).</param>
/// <param name="Log">Progress lines for the console (one line per finished run, say).</param>
/// <param name="ReuseSeeds">
/// Reuse per-seed results that an earlier run with the same settings saved in <see cref="OutputFolder"/>
/// instead of training those seeds again (for experiments that save them; the page names the commit
/// that trained each reused seed). Off by default: a changed training code would otherwise go unseen.
/// </param>
/// <param name="Long">
/// The heavier, documented setting (<c>--long</c>): the smallest changes that could separate what the
/// default scale leaves a tie (<see cref="IExperiment.LongScale"/> says which); its page goes to
/// docs/results/long/ and the ledger sets its verdicts beside the default's.
/// </param>
public sealed record ExperimentOptions(bool Quick, int? Seeds, string OutputFolder, string ResultsPage, Action<string> Log, bool ReuseSeeds = false, bool Long = false)
{
    /// <summary>The scale's name for pages and commands: "quick", "long" or "default".</summary>
    public string ScaleName => Quick ? "quick" : Long ? "long" : "default";

    /// <summary>The command-line flags that select this scale and seed count (" --long --seeds 4", say).</summary>
    public string ScaleFlags => (Quick ? " --quick" : Long ? " --long" : "") + (Seeds is int n ? $" --seeds {n}" : "");
}

/// <summary>
/// A reduced-scale reproduction of a paper's comparison: it trains every arm, measures each and
/// writes a Markdown page with our table next to the paper's numbers (seeds, run time, plots).
/// </summary>
public interface IExperiment
{
    /// <summary>The name used on the command line (gppf, xlearner, ...).</summary>
    string Name { get; }

    /// <summary>One line for <c>tessera experiment --help</c>.</summary>
    string Description { get; }

    /// <summary>
    /// What <c>--long</c> changes against the default scale and why (the ties it targets), or null
    /// where the experiment has no long scale (<c>--long</c> is then a clear error).
    /// </summary>
    string? LongScale => null;

    /// <summary>Runs the experiment and writes <see cref="ExperimentOptions.ResultsPage"/>; returns the headline numbers (printed as JSON).</summary>
    IReadOnlyDictionary<string, object> Run(ExperimentOptions options);
}

/// <summary>Every experiment Tessera ships; <c>tessera experiment</c> enumerates this list.</summary>
public static class ExperimentCatalog
{
    private static readonly List<IExperiment> s_all = [];

    public static IReadOnlyList<IExperiment> All => s_all;

    /// <summary>The experiment called <paramref name="name"/>, or a clear error listing the known ones.</summary>
    public static IExperiment Find(string name) =>
        s_all.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"experiment: unknown experiment '{name}'; expected one of: {(s_all.Count == 0 ? "(none registered)" : string.Join(", ", s_all.Select(e => e.Name)))}", nameof(name));

    /// <summary>Adds an experiment (called once per experiment by <c>Register</c>).</summary>
    private static void Add(IExperiment experiment)
    {
        if (s_all.Any(e => e.Name == experiment.Name))
            throw new InvalidOperationException($"experiment '{experiment.Name}' registered twice");
        s_all.Add(experiment);
    }

    static ExperimentCatalog()
    {
        // One line per experiment (keep sorted by paper number).
        Add(new Systems.Intern.InternExperiment());
        Add(new Systems.Gppf.GppfExperiment());
        Add(new Systems.HvpMtl.HvpMtlExperiment());
        Add(new Systems.Eva.EvaExperiment());
        Add(new Systems.XLearner.XLearnerExperiment());
    }
}
