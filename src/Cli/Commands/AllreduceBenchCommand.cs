using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Engine.Distributed;

namespace Tessera.Cli.Commands;

/// <summary>
/// <c>mpirun -np N tessera allreduce-bench</c>: times a float32 sum-Allreduce of --total MB sent in
/// buckets of each size, the way the trainer sends gradients, to choose the bucket size. Sizes
/// are interleaved round-robin over the repeats (a loaded machine then slows every size alike);
/// rank 0 prints the median and best time per bucket size (the slowest rank's time for each repeat).
/// </summary>
internal static class AllreduceBenchCommand
{
    public static Command Create()
    {
        var total = new Option<double>("--total") { Description = "Megabytes reduced per repeat (a step's gradients).", DefaultValueFactory = _ => 64 };
        var buckets = new Option<string>("--buckets") { Description = "Bucket sizes in MB, comma-separated.", DefaultValueFactory = _ => "0.0625,0.25,1,2,4,8,16,64" };
        var repeats = CliOptions.PositiveCount("--repeats", "Timed repeats per bucket size (default 7).");
        var json = new Option<bool>("--json") { Description = "One JSON object per bucket size instead of the table." };
        var command = new Command("allreduce-bench", "Under mpirun: Allreduce bandwidth against the bucket size (float32 sums; rank 0 prints).") { total, buckets, repeats, json };
        command.SetAction(parse =>
        {
            var world = MpiCommunicator.World("allreduce-bench", "run it as 'mpirun -np 2 tessera allreduce-bench'");
            try
            {
                double totalMb = parse.GetValue(total);
                if (!(totalMb > 0)) throw new ArgumentException($"--total: expected a positive number of MB, found {totalMb}");
                var sizes = ParseSizes(parse.GetValue(buckets)!);
                int count = (int)Math.Min(int.MaxValue / 4, totalMb * 1048576 / 4);
                var data = new float[count];
                int repeatCount = parse.GetValue(repeats) ?? 7;
                var times = sizes.Select(_ => new List<double>()).ToArray();
                Reduce(world, data, count); // warm-up: connections, pages
                for (int r = 0; r < repeatCount; r++)
                {
                    for (int s = 0; s < sizes.Length; s++)
                    {
                        int bucket = (int)Math.Max(1, Math.Min(count, sizes[s] * 1048576 / 4));
                        world.Barrier();
                        long start = Stopwatch.GetTimestamp();
                        Reduce(world, data, bucket);
                        Span<double> elapsed = [Stopwatch.GetElapsedTime(start).TotalSeconds];
                        world.AllReduce(elapsed, ReduceOp.Max);
                        times[s].Add(elapsed[0]);
                    }
                }
                if (world.Rank == 0) Print(world, sizes, times, count * 4.0, parse.GetValue(json));
                return 0;
            }
            finally
            {
                world.Dispose();
            }
        });
        return command;
    }

    private static void Reduce(ICommunicator world, float[] data, int bucket)
    {
        for (int start = 0; start < data.Length; start += bucket)
            world.AllReduce(data.AsSpan(start, Math.Min(bucket, data.Length - start)));
    }

    private static double[] ParseSizes(string text)
    {
        var sizes = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, CultureInfo.InvariantCulture, out double mb) || !(mb > 0))
                throw new ArgumentException($"--buckets: expected positive sizes in MB separated by commas (0.25,1,4), found '{part}'");
            sizes.Add(mb);
        }
        return sizes.Count > 0 ? sizes.ToArray() : throw new ArgumentException("--buckets: expected at least one size");
    }

    private static void Print(ICommunicator world, double[] sizes, List<double>[] times, double bytes, bool json)
    {
        // Bus bandwidth: what each rank's link carries in a ring allreduce, 2(N-1)/N of the data (NCCL's convention).
        double busFactor = 2.0 * (world.Size - 1) / world.Size;
        if (!json)
            Console.WriteLine($"{world.Description}, {world.Size} ranks, {bytes / 1048576:F1} MB float32 per repeat, {times[0].Count} repeats; CPU {Engine.CpuInfo.Model}");
        if (!json) Console.WriteLine($"{"bucket MB",10} {"median ms",10} {"best ms",10} {"GB/s (algo, median)",20} {"GB/s (bus)",11}");
        for (int s = 0; s < sizes.Length; s++)
        {
            var sorted = times[s].Order().ToArray();
            double median = sorted[sorted.Length / 2], best = sorted[0];
            double algo = bytes / median / 1e9;
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["bucket_mb"] = sizes[s], ["total_mb"] = Math.Round(bytes / 1048576, 3), ["ranks"] = world.Size,
                    ["median_ms"] = Math.Round(median * 1000, 3), ["best_ms"] = Math.Round(best * 1000, 3),
                    ["algo_gb_s"] = Math.Round(algo, 3), ["bus_gb_s"] = Math.Round(algo * busFactor, 3),
                }));
            else
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sizes[s],10:g4} {median * 1000,10:F2} {best * 1000,10:F2} {algo,20:F2} {algo * busFactor,11:F2}"));
        }
    }
}
