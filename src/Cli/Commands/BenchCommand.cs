using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Tessera.Models.Benchmarks;
using Tessera.Engine.Threading;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera bench [names...] [--json]</c>: time the registered benchmarks.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var names = new Argument<string[]>("names") { Description = "Benchmarks to run (exact names or prefixes such as 'sgemm'); all when omitted.", Arity = ArgumentArity.ZeroOrMore };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per line: {\"bench\", \"ms\", \"gflops\", ...}." };
        var list = new Option<bool>("--list") { Description = "List the benchmarks and exit." };
        var threads = CliOptions.Threads();
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed seconds per benchmark.", DefaultValueFactory = _ => 1.0 };
        var device = new Option<string>("--device") { Description = "cpu (default): the CPU suite; cuda or cuda-emu: the GPU suite (GpuBenchSuite) on that device.", DefaultValueFactory = _ => "cpu" };
        var profile = new Option<int>("--profile") { Description = "Instead of timing: run each selected bench this many times (after 2 warm-up runs) under the op profiler and print where the time goes, op by op, as a markdown table (CPU only).", DefaultValueFactory = _ => 0 };
        var command = new Command("bench", "Time the kernel and training-step benchmarks (median of repeats after warm-up).") { names, json, list, threads, seconds, device, profile };
        command.SetAction(parse =>
        {
            CpuParallel.MaxThreads = parse.GetValue(threads);
            var target = Engine.Device.Parse(parse.GetValue(device) ?? "cpu");
            var selected = Select(parse.GetValue(names) ?? [], target.IsGpu ? GpuBenchSuite.For(target) : BenchSuite.All);
            if (parse.GetValue(list))
            {
                foreach (var c in selected) Console.WriteLine($"{c.Name,-45} {c.Description}");
                return 0;
            }
            int profileSteps = parse.GetValue(profile);
            if (profileSteps < 0)
                throw new ArgumentException($"bench: --profile expected a number of runs ≥ 1, found {profileSteps}");
            if (profileSteps > 0)
            {
                if (target.IsGpu)
                    throw new ArgumentException("bench: --profile times ops on the host thread and does not wait for the GPU; profile with --device cpu");
                foreach (var benchCase in selected)
                    Console.Write(BenchRunner.Profile(benchCase, profileSteps));
                return 0;
            }
            bool asJson = parse.GetValue(json);
            if (!asJson) Console.WriteLine($"CPU: {Engine.CpuInfo.Host}, {CpuParallel.MaxThreads} threads");
            var table = new Table().AddColumns("bench", "median ms", "min ms", "GFLOP/s", "images/s", "repeats");
            foreach (var benchCase in selected)
            {
                var result = BenchRunner.Run(benchCase, minSeconds: parse.GetValue(seconds));
                if (asJson)
                {
                    var line = new Dictionary<string, object> { ["bench"] = result.Name, ["ms"] = Math.Round(result.MedianMs, 4), ["gflops"] = Math.Round(result.Gflops, 2) };
                    if (result.ItemsPerSecond > 0) line["images_per_s"] = Math.Round(result.ItemsPerSecond, 2);
                    if (benchCase.CountParameters is { } count) line["params"] = count();
                    line["cpu_ms"] = Math.Round(result.CpuMs, 3);
                    // Peak resident memory of the whole process so far (run one bench per process to attribute it).
                    line["peak_mb"] = Math.Round(System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1);
                    line["gc_heap_mb"] = Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, 1);
                    line["pool_mb"] = Math.Round(Engine.Memory.CpuMemoryPool.PooledBytes / 1048576.0, 1);
                    line["threads"] = CpuParallel.MaxThreads;
                    line["cpu"] = Engine.CpuInfo.Host;
                    Console.WriteLine(JsonSerializer.Serialize(line));
                }
                else
                {
                    table.AddRow(result.Name, $"{result.MedianMs:F3}", $"{result.MinMs:F3}", result.Gflops > 0 ? $"{result.Gflops:F1}" : "-",
                        result.ItemsPerSecond > 0 ? $"{result.ItemsPerSecond:F1}" : "-", result.Repeats.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            if (!asJson) AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    private static List<BenchCase> Select(string[] names, IReadOnlyList<BenchCase> suite)
    {
        if (names.Length == 0) return suite.ToList();
        var selected = new List<BenchCase>();
        foreach (var name in names)
        {
            var matches = suite.Where(c => c.Name == name || c.Name.StartsWith(name, StringComparison.Ordinal)).ToList();
            if (matches.Count == 0)
                throw new ArgumentException($"bench: no benchmark named or starting with '{name}'; run 'tessera bench --list' (with the same --device) to see them");
            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }
        return selected;
    }
}
