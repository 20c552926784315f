using Tessera.Engine;
using Tessera.Models.Benchmarks;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The GPU bench registry behind `tessera bench --device`: names match tools/bench/gpu_compare.py and gpu_attention.py, the smoke cases run on cuda-emu.</summary>
public class GpuBenchSuiteTests
{
    [Fact]
    public void SmokeCaseRunsOnTheEmulator()
    {
        var cases = GpuBenchSuite.For(Device.Parse("cuda-emu"));
        Assert.Contains(cases, c => c.Name == "gpu_conv_fwdbwd_32x64x56_64k3s1");
        Assert.Equal(cases.Count, cases.Select(c => c.Name).Distinct().Count());
        foreach (string smoke in new[] { "gpu_sgemm_smoke", "gpu_attn_fwd_smoke" })
        {
            var result = BenchRunner.Run(cases.Single(c => c.Name == smoke), minRepeats: 1, minSeconds: 0, warmup: 0);
            Assert.Equal(1, result.Repeats);
            Assert.True(result.Gflops > 0, smoke);
        }
    }

    [Fact]
    public void CpuDeviceIsRejected() =>
        Assert.Contains("cuda or cuda-emu", Assert.Throws<ArgumentException>(() => GpuBenchSuite.For(Device.Cpu)).Message, StringComparison.Ordinal);

    [Fact]
    public void ComparisonScriptNamesEveryCase()
    {
        string script = File.ReadAllText(Path.Combine(RepositoryRoot(), "tools", "bench", "gpu_compare.py"));
        string attentionScript = File.ReadAllText(Path.Combine(RepositoryRoot(), "tools", "bench", "gpu_attention.py"));
        foreach (var c in GpuBenchSuite.For(Device.Parse("cuda-emu")))
        {
            if (c.Name.StartsWith("gpu_attn_", StringComparison.Ordinal))
            {
                // gpu_attention.py lists the shapes as (batch, heads, tokens, dim, causal) tuples.
                if (c.Name.EndsWith("_smoke", StringComparison.Ordinal))
                    continue;
                var m = System.Text.RegularExpressions.Regex.Match(c.Name, @"_b(\d+)h(\d+)t(\d+)d(\d+)(_causal)?$");
                Assert.True(m.Success, c.Name);
                Assert.Contains($"({m.Groups[1]}, {m.Groups[2]}, {m.Groups[3]}, {m.Groups[4]}, {(m.Groups[5].Success ? "True" : "False")})", attentionScript, StringComparison.Ordinal);
                continue;
            }
            // Each C# case appears in the script, literally or as one of its generated families.
            string family = c.Name.StartsWith("gpu_conv_", StringComparison.Ordinal) ? c.Name[(c.Name.IndexOf('_', 9) + 1)..]
                : c.Name.StartsWith("gpu_sgemm_", StringComparison.Ordinal) && int.TryParse(c.Name["gpu_sgemm_".Length..], out _) ? "gpu_sgemm_{n}"
                : c.Name;
            Assert.Contains(family, script, StringComparison.Ordinal);
        }
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Engine.sln not found above the test binaries");
    }
}
