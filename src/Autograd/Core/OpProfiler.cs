using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Tessera.Autograd;

/// <summary>
/// Where a step's wall time goes, op by op (the role of llm.c's per-layer timers): every op is
/// charged the wall time since the previous op finished on the same thread, every backward rule its
/// own run time, and named sections (the optimiser step) their own. CPU kernels are synchronous, so
/// the interval between two ops is the second op's cost plus the framework code between them.
/// </summary>
/// <remarks>
/// <code>
/// using (var profile = OpProfiler.Start())
///     for (int i = 0; i &lt; 5; i++) step();
/// Console.Write(profile.Format(steps: 5));
/// </code>
/// Only the thread that called <see cref="Start"/> is profiled (kernels it runs on worker threads
/// are inside its ops' times). An op that returns without reaching <see cref="AutogradEngine.Record"/>
/// is charged to the next one that does. Time on a GPU device is not synchronised here: profile CPU
/// steps. Cost when no profile is active: one thread-static read per op.
/// </remarks>
public static class OpProfiler
{
    [ThreadStatic] private static OpProfile? _active;

    /// <summary>Starts profiling this thread until the returned profile is disposed.</summary>
    public static OpProfile Start()
    {
        if (_active is not null)
            throw new InvalidOperationException("OpProfiler.Start: a profile is already active on this thread; dispose it before starting another");
        var profile = new OpProfile();
        _active = profile;
        return profile;
    }

    /// <summary>
    /// Charges the wall time inside the returned scope to <paramref name="name"/> (phase "section")
    /// instead of to the next op; a no-op without an active profile.
    /// </summary>
    public static IDisposable Section(string name)
    {
        var profile = _active;
        if (profile is null || profile.BackwardDepth > 0) return NoScope.Instance;
        return new SectionScope(profile, name, profile.ChargeGap());
    }

    internal static void OnOp(string name)
    {
        var profile = _active;
        if (profile is null || profile.BackwardDepth > 0) return;
        profile.Charge(name, "forward", profile.Since());
    }

    /// <summary>Enters a backward sweep; returns the profile (null when none) and the sweep's start time.</summary>
    internal static (OpProfile? Profile, long Start) BeginBackward()
    {
        var profile = _active;
        if (profile is null) return (null, 0);
        long start = profile.BackwardDepth++ == 0 ? profile.ChargeGap() : Stopwatch.GetTimestamp();
        return (profile, start);
    }

    /// <summary>Leaves a backward sweep: what its rules, accumulations and frees were not charged goes to bookkeeping.</summary>
    internal static void EndBackward(OpProfile? profile, long start, long chargedTicks)
    {
        if (profile is null) return;
        if (--profile.BackwardDepth > 0) return;
        long end = Stopwatch.GetTimestamp();
        profile.Charge("(gradient bookkeeping)", "backward", end - start - chargedTicks);
        profile.MarkAt(end);
    }

    internal static void Detach(OpProfile profile)
    {
        if (ReferenceEquals(_active, profile)) _active = null;
    }

    // Each interval starts at the timestamp that closed the previous one: no gap between two
    // readings of the clock, where a GC pause or a preemption would go uncharged.
    private sealed class SectionScope(OpProfile profile, string name, long start) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            long end = Stopwatch.GetTimestamp();
            profile.Charge(name, "section", end - start);
            profile.MarkAt(end);
        }
    }

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();
        public void Dispose() { }
    }
}

/// <summary>One line of an <see cref="OpProfile"/>: an op (or section) in one phase, its calls and total time.</summary>
public sealed record OpTiming(string Name, string Phase, long Calls, double Milliseconds);

/// <summary>The times an <see cref="OpProfiler"/> run collected; dispose to stop profiling.</summary>
public sealed class OpProfile : IDisposable
{
    private readonly Dictionary<(string, string), (long Calls, long Ticks)> _entries = new();
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _last;
    private long _stopped;

    internal OpProfile() => _last = _started;

    internal int BackwardDepth { get; set; }

    /// <summary>Wall time from <see cref="OpProfiler.Start"/> to now (or to <see cref="Dispose"/>).</summary>
    public double TotalMilliseconds => Stopwatch.GetElapsedTime(_started, _stopped != 0 ? _stopped : Stopwatch.GetTimestamp()).TotalMilliseconds;

    /// <summary>Every op and phase seen, most expensive first.</summary>
    public IReadOnlyList<OpTiming> Timings =>
        _entries.Select(e => new OpTiming(e.Key.Item1, e.Key.Item2, e.Value.Calls, e.Value.Ticks * 1000.0 / Stopwatch.Frequency))
            .OrderByDescending(t => t.Milliseconds).ToList();

    internal long Since()
    {
        long now = Stopwatch.GetTimestamp();
        long elapsed = now - _last;
        _last = now;
        return elapsed;
    }

    internal void MarkAt(long timestamp) => _last = timestamp;

    /// <summary>Charges the time since the last op that no op claims (code between steps, data preparation); returns now.</summary>
    internal long ChargeGap()
    {
        Charge("(between ops)", "other", Since());
        return _last;
    }

    internal void Charge(string name, string phase, long ticks)
    {
        if (_stopped != 0) return;
        _entries.TryGetValue((name, phase), out var entry);
        _entries[(name, phase)] = (entry.Calls + 1, entry.Ticks + ticks);
    }

    /// <summary>
    /// A table, most expensive first: op, phase, calls and milliseconds per step, share of the total;
    /// lines below <paramref name="minShare"/> of the total are summed into one.
    /// </summary>
    public string Format(int steps = 1, double minShare = 0.002)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "OpProfile.Format: expected steps ≥ 1 (the number of steps the profile covers)");
        var inv = CultureInfo.InvariantCulture;
        var timings = Timings;
        double total = timings.Sum(t => t.Milliseconds);
        var text = new StringBuilder();
        text.AppendLine(inv, $"| op | phase | calls/step | ms/step | share |");
        text.AppendLine("|---|---|---:|---:|---:|");
        double rest = 0; int restCount = 0;
        foreach (var t in timings)
        {
            if (total > 0 && t.Milliseconds / total < minShare) { rest += t.Milliseconds; restCount++; continue; }
            text.AppendLine(inv, $"| {t.Name} | {t.Phase} | {t.Calls / (double)steps:0.#} | {t.Milliseconds / steps:F2} | {100 * t.Milliseconds / Math.Max(total, 1e-9):F1}% |");
        }
        if (restCount > 0)
            text.AppendLine(inv, $"| ({restCount} more, each < {100 * minShare:0.#}%) | | | {rest / steps:F2} | {100 * rest / Math.Max(total, 1e-9):F1}% |");
        text.AppendLine(inv, $"| **total** | | | **{total / steps:F2}** | 100% |");
        return text.ToString();
    }

    /// <summary>Stops collecting; the timings stay readable.</summary>
    public void Dispose()
    {
        if (_stopped != 0) return;
        _stopped = Stopwatch.GetTimestamp();
        OpProfiler.Detach(this);
    }
}
