using System.Text.Json;
using Tessera.Engine.Threading;
using Tessera.Models.Benchmarks;
using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Benchmarks;

/// <summary>
/// The train_step_* benches of the systems' models stay the same computation as their PyTorch
/// twins (tools/bench/torch_models.py): same parameter count, same names, same fixed inputs.
/// </summary>
public class TrainStepModelTests
{
    /// <summary>Counts printed by the twins: `python3 tools/bench/torch_bench.py train_step --params` (PyTorch 1.13 and 2.6 agree).</summary>
    [Theory]
    [InlineData(TrainStepModels.Swin, 2_160_198L)]
    [InlineData(TrainStepModels.TextMlm, 108_981L)]
    [InlineData(TrainStepModels.EvaStudentStep, 91_952L)]
    [InlineData(TrainStepModels.Hvp, 116_492L)]
    [InlineData("train_step_smallcnn_64x3x64x64", 94_986L)]
    [InlineData("train_step_vit_tiny_p8_d192_L6_64x3x64x64", 2_721_226L)] // torchvision's VisionTransformer
    public void ParameterCountMatchesTheTorchTwin(string name, long torchCount)
    {
        var count = BenchSuite.All.Single(c => c.Name == name).CountParameters;
        Assert.NotNull(count);
        Assert.Equal(torchCount, count());
    }

    [Fact]
    public void TheTorchTwinUsesTheCaptionVocabulary() =>
        Assert.Contains($"CAPTION_VOCABULARY = {CaptionVocabulary.Count} ", File.ReadAllText(Path.Combine(RepositoryRoot(), "tools", "bench", "torch_bench.py")), StringComparison.Ordinal);

    [Fact]
    public void EveryTrainStepIsRegisteredOnBothSides()
    {
        string torchBench = File.ReadAllText(Path.Combine(RepositoryRoot(), "tools", "bench", "torch_bench.py"));
        foreach (string name in new[] { TrainStepModels.Swin, TrainStepModels.TextMlm, TrainStepModels.EvaStudentStep, TrainStepModels.Hvp })
        {
            var benchCase = Assert.Single(BenchSuite.All, c => c.Name == name);
            Assert.Equal(TrainStepModels.BatchOf(name), benchCase.ItemsPerRun);
            Assert.NotNull(benchCase.CountParameters);
            Assert.Contains($"\"{name}\"", torchBench, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EachStepRunsOnce()
    {
        foreach (string name in new[] { TrainStepModels.TextMlm, TrainStepModels.EvaStudentStep, TrainStepModels.Hvp, TrainStepModels.Swin })
        {
            var benchCase = BenchSuite.All.Single(c => c.Name == name);
            Assert.Equal(TrainStepModels.WarmupSeconds, benchCase.WarmupSeconds);
            var result = BenchRunner.Run(benchCase with { WarmupSeconds = 0 }, minRepeats: 1, minSeconds: 0, warmup: 0);
            Assert.Equal(1, result.Repeats);
            Assert.True(result.ItemsPerSecond > 0, name);
        }
    }

    [Fact]
    public void FixedMaskHasTheRatioInEveryRow()
    {
        var mask = TrainStepModels.FixedMask(48, 64, 0.4f).ToArray<float>();
        for (int b = 0; b < 48; b++)
            Assert.Equal(26f, mask.AsSpan(b * 64, 64).ToArray().Sum()); // round(0.4 · 64)
    }

    [Fact]
    public void BenchTokensAreCaptions()
    {
        var tokens = TrainStepModels.BenchTokens(32, 32, CaptionVocabulary.Count);
        var targets = TrainStepModels.MlmTargets(tokens, 32, 32);
        for (int b = 0; b < 32; b++)
        {
            var row = tokens.AsSpan(b * 32, 32);
            int words = Math.Min(30, 12 + b % 17);
            Assert.Equal(CaptionVocabulary.Begin, row[0]);
            Assert.Equal(CaptionVocabulary.End, row[words + 1]);
            Assert.All(row[1..(words + 1)].ToArray(), t => Assert.InRange(t, 4, CaptionVocabulary.Count - 1));
            Assert.All(row[(words + 2)..].ToArray(), t => Assert.Equal(CaptionVocabulary.Pad, t));
        }
        Assert.InRange(targets.Count(t => t >= 0), 32 * 12 / 8, 32 * 30 / 6); // about every 7th word
    }

    [Fact]
    public void HostLineNamesTheIsaAndCores()
    {
        string description = Tessera.Engine.CpuInfo.Host;
        Assert.Contains($"{Environment.ProcessorCount} cores)", description, StringComparison.Ordinal);
        Assert.Matches("(avx512f|avx2|sse2|scalar)", description);
    }

    [Fact]
    public void BenchJsonCarriesCpuAndParameterCount()
    {
        var (code, stdout, stderr) = TesseraProcess.Run(RepositoryRoot(), "bench", TrainStepModels.TextMlm, "--json", "--seconds", "0", "--threads", "1");
        Assert.True(code == 0, stderr);
        using var line = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        Assert.Equal(Tessera.Engine.CpuInfo.Host, line.RootElement.GetProperty("cpu").GetString());
        Assert.Equal(108_981L, line.RootElement.GetProperty("params").GetInt64());
        Assert.True(line.RootElement.GetProperty("peak_mb").GetDouble() > 0);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Engine.sln not found above the test binaries");
    }
}
