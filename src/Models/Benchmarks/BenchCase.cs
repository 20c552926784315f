namespace Tessera.Models.Benchmarks;

/// <summary>
/// One named benchmark. <see cref="Prepare"/> builds the inputs (untimed) and returns the action
/// to time; <see cref="Flops"/> counts the useful floating-point operations of one run (0 when the
/// figure is not meaningful), <see cref="ItemsPerRun"/> the images per run for throughput benches,
/// <see cref="CountParameters"/> (training steps) the trained model's parameter count, so both sides of a comparison can show theirs.
/// <see cref="WarmupSeconds"/>: warm-up time after the warm-up runs. A step of many small ops runs
/// its glue code (autograd, layers, optimiser) tier-0 JIT-compiled until each method has been
/// called ~30 times and recompiled in the background: two warm-up runs of a 20 ms step leave the
/// timed runs at ~2× their steady-state time.
/// </summary>
public sealed record BenchCase(string Name, string Description, double Flops, Func<Action> Prepare, int ItemsPerRun = 0, Func<long>? CountParameters = null,
    double WarmupSeconds = 0);

/// <summary>Timing of one case: median and spread over the repeats, in milliseconds.</summary>
/// <remarks>CpuMs is the process's CPU time per run (all threads): on a busy shared machine, CpuMs / threads
/// estimates the wall time a quiet machine would give, where the median wall time cannot.</remarks>
public sealed record BenchResult(string Name, double MedianMs, double MinMs, double MaxMs, int Repeats, double Gflops, double ItemsPerSecond, double CpuMs);

/// <summary>Warms up, then times a case until both a minimum repeat count and a minimum total time are reached.</summary>
public static class BenchRunner
{
    public static BenchResult Run(BenchCase benchCase, int minRepeats = 5, double minSeconds = 1.0, int warmup = 2)
    {
        ArgumentNullException.ThrowIfNull(benchCase);
        var action = benchCase.Prepare();
        // Warm-up runs let tiered JIT reach the optimised code and fill the memory pool.
        for (int i = 0; i < warmup; i++) action();
        for (var warm = System.Diagnostics.Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < benchCase.WarmupSeconds;) action();
        var times = new List<double>();
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var total = System.Diagnostics.Stopwatch.StartNew();
        while (times.Count < minRepeats || (total.Elapsed.TotalSeconds < minSeconds && times.Count < 1000))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        process.Refresh();
        double cpuMs = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / times.Count;
        times.Sort();
        double median = times[times.Count / 2];
        return new BenchResult(benchCase.Name, median, times[0], times[^1], times.Count,
            benchCase.Flops > 0 ? benchCase.Flops / (median * 1e6) : 0,
            benchCase.ItemsPerRun > 0 ? benchCase.ItemsPerRun / (median / 1000) : 0, cpuMs);
    }

    /// <summary>
    /// Runs a case <paramref name="runs"/> times after <paramref name="warmup"/> runs under the op
    /// profiler (<see cref="Autograd.OpProfiler"/>) and returns a markdown section: the case, the CPU,
    /// the threads and where the time of one run goes, op by op.
    /// </summary>
    public static string Profile(BenchCase benchCase, int runs = 5, int warmup = 2)
    {
        ArgumentNullException.ThrowIfNull(benchCase);
        if (runs < 1) throw new ArgumentOutOfRangeException(nameof(runs), runs, "BenchRunner.Profile: expected at least one profiled run");
        var action = benchCase.Prepare();
        for (int i = 0; i < warmup; i++) action();
        for (var warm = System.Diagnostics.Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < benchCase.WarmupSeconds;) action(); // tier-1 JIT, as Run
        string table;
        double wallMs;
        using (var profile = Autograd.OpProfiler.Start())
        {
            for (int i = 0; i < runs; i++) action();
            profile.Dispose();
            table = profile.Format(runs);
            wallMs = profile.TotalMilliseconds / runs;
        }
        return $"### {benchCase.Name}\n{benchCase.Description}; {Engine.CpuInfo.Describe()}, {Engine.Threading.CpuParallel.MaxThreads} threads, GEMM blocks {Kernels.Cpu.GemmBlocking.Current}, " +
               $"{runs} profiled runs after {warmup} warm-up, {wallMs:F1} ms per run\n\n{table}\n";
    }
}
