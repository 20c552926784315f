using System.Diagnostics;
using System.Globalization;

namespace Tessera.Engine.Compiler;

/// <summary>Compile-time measurement of one kernel: first compile in the process, warm recompile, cached lookup.</summary>
public sealed record CompileTiming(string Kernel, double FirstMilliseconds, double WarmMilliseconds, double CachedMicroseconds);

public static class CompileTimer
{
    /// <summary>
    /// Measures every entry: the first (cold) compile, the median of five uncached recompiles once the
    /// compiler is warm, and the mean of 10,000 cached lookups. Call on a fresh process for honest cold numbers.
    /// </summary>
    public static List<CompileTiming> Measure(IEnumerable<KernelEntry> entries, GpuTarget target = GpuTarget.Sm80)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var results = new List<CompileTiming>();
        foreach (KernelEntry e in entries)
        {
            var clock = Stopwatch.StartNew();
            KernelCompiler.Compile(e.Method, target, e.Specialisation);
            double first = clock.Elapsed.TotalMilliseconds;
            var warm = new List<double>();
            for (int i = 0; i < 5; i++)
            {
                clock.Restart();
                KernelCompiler.CompileUncached(e.Method, target, e.Specialisation);
                warm.Add(clock.Elapsed.TotalMilliseconds);
            }
            warm.Sort();
            const int lookups = 10_000;
            clock.Restart();
            for (int i = 0; i < lookups; i++)
                KernelCompiler.Compile(e.Method, target, e.Specialisation);
            results.Add(new CompileTiming(e.Name, first, warm[2], clock.Elapsed.TotalMilliseconds * 1000 / lookups));
        }
        return results;
    }

    public static string Table(IEnumerable<CompileTiming> timings)
    {
        ArgumentNullException.ThrowIfNull(timings);
        var lines = new List<string>
        {
            "| kernel | first compile (ms) | warm compile (ms) | cached lookup (µs) |",
            "|---|---:|---:|---:|",
        };
        lines.AddRange(timings.Select(t => string.Create(CultureInfo.InvariantCulture,
            $"| {t.Kernel} | {t.FirstMilliseconds:F1} | {t.WarmMilliseconds:F2} | {t.CachedMicroseconds:F2} |")));
        return string.Join('\n', lines);
    }
}
