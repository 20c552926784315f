using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Benchmarks;
using Tessera.Models.Optim;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Autograd;

/// <summary>The op profiler charges forward ops, backward rules and sections, and covers the profiled wall time.</summary>
public class OpProfilerTests
{
    private static void Step(Tensor x, Tensor weight, Tensor bias, Optimizer optimizer)
    {
        optimizer.ZeroGrad();
        var loss = F.Gelu(F.Linear(x, weight, bias)).Sum();
        loss.Backward();
        optimizer.Step();
    }

    [Fact]
    public void ChargesForwardBackwardAndTheOptimiserSection()
    {
        var generator = new Generator(5);
        var x = Tensor.Randn([64, 32], generator);
        var weight = Tensor.Randn([16, 32], generator).RequireGrad();
        var bias = Tensor.Randn([16], generator).RequireGrad();
        var optimizer = new Sgd([weight, bias], lr: 0.01f);
        Step(x, weight, bias, optimizer);
        OpProfile profile;
        double stepMs = 0;
        using (profile = OpProfiler.Start())
            for (int i = 0; i < 3; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                Step(x, weight, bias, optimizer);
                stepMs += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        var timings = profile.Timings;
        OpTiming Find(string name, string phase) =>
            timings.SingleOrDefault(t => t.Name == name && t.Phase == phase)
            ?? throw new Xunit.Sdk.XunitException($"no '{name}' ({phase}) among: {string.Join(", ", timings.Select(t => $"{t.Name} ({t.Phase})"))}");
        Assert.Equal(3, Find("linear", "forward").Calls);
        Assert.Equal(3, Find("gelu", "forward").Calls);
        Assert.Equal(3, Find("linear", "backward").Calls);
        Assert.Equal(3, Find("gelu", "backward").Calls);
        Assert.Equal(3, Find("optimizer step (Sgd)", "section").Calls);
        // Backward rules run ops themselves: those must not show up as forward calls.
        Assert.DoesNotContain(timings, t => t.Phase == "forward" && t.Calls > 3 * 4);
        // Every interval is charged to exactly one line: the lines sum to the steps' wall time.
        double charged = timings.Sum(t => t.Milliseconds);
        Assert.True(charged >= 0.9 * stepMs && charged <= profile.TotalMilliseconds + 1e-6,
            $"charged {charged:F3} ms; the steps took {stepMs:F3} ms, the profile {profile.TotalMilliseconds:F3} ms:\n{profile.Format(3)}");
        string table = profile.Format(steps: 3);
        Assert.Contains("| linear | backward | 1 |", table);
        Assert.Contains("**total**", table);
    }

    [Fact]
    public void StoppedProfilesCollectNothingAndOneThreadHasOneProfile()
    {
        var generator = new Generator(6);
        var a = Tensor.Randn([8, 8], generator);
        var profile = OpProfiler.Start();
        Assert.Throws<InvalidOperationException>(() => OpProfiler.Start());
        profile.Dispose();
        _ = a.Matmul(a);
        Assert.DoesNotContain(profile.Timings, t => t.Name == "matmul");
        Assert.Throws<ArgumentOutOfRangeException>(() => profile.Format(steps: 0));
        using var next = OpProfiler.Start();   // the thread is free again
    }

    [Fact]
    public void BenchProfileNamesTheCpuAndTheOps()
    {
        var smallest = new BenchCase("tiny_linear", "linear forward + backward, 32x16", 0, () =>
        {
            var generator = new Generator(7);
            var x = Tensor.Randn([32, 16], generator);
            var weight = Tensor.Randn([8, 16], generator).RequireGrad();
            return () => F.Linear(x, weight).Sum().Backward();
        });
        string section = BenchRunner.Profile(smallest, runs: 2, warmup: 1);
        Assert.Contains("### tiny_linear", section);
        Assert.Contains(Tessera.Engine.CpuInfo.Model, section);
        Assert.Contains("| matmul | forward |", section);
        Assert.Contains("**total**", section);
    }
}
