using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Sampling properties of GumbelNoise and GumbelSoftmax (the deterministic path is covered by the goldens).</summary>
public sealed class GumbelTests
{
    [Fact]
    public void SameSeedGivesSameSamplesWhateverTheThreadCount()
    {
        var logits = Tensor.Randn([256, 64], new Generator(3));
        float[] Sample(int threads)
        {
            using var _ = CpuParallel.WithThreads(threads);
            return F.GumbelSoftmax(logits, tau: 0.7f, dim: -1, generator: new Generator(42)).ToArray();
        }
        var serial = Sample(1);
        var parallel = Sample(2);
        Assert.Equal(serial, parallel);
        Assert.NotEqual(serial, F.GumbelSoftmax(logits, tau: 0.7f, generator: new Generator(43)).ToArray());
    }

    [Fact]
    public void DrawsAdvanceTheGeneratorAndRestoringItsStateReplays()
    {
        var generator = new Generator(9);
        var state = generator.GetState();
        var first = F.GumbelNoise([10], generator).ToArray();
        var second = F.GumbelNoise([10], generator).ToArray();
        Assert.NotEqual(first, second);
        generator.SetState(state.Seed, state.Offset);
        Assert.Equal(first, F.GumbelNoise([10], generator).ToArray());
    }

    [Fact]
    public void NoiseHasTheGumbelMeanAndVariance()
    {
        var noise = F.GumbelNoise([200_000], new Generator(5)).ToArray();
        double mean = noise.Average();
        double variance = noise.Sum(v => (v - mean) * (v - mean)) / (noise.Length - 1);
        Assert.True(noise.All(float.IsFinite), "Gumbel noise must be finite");
        Assert.InRange(mean, 0.5772 - 0.015, 0.5772 + 0.015); // Euler-Mascheroni constant
        Assert.InRange(variance, Math.PI * Math.PI / 6 - 0.04, Math.PI * Math.PI / 6 + 0.04);
    }

    [Fact]
    public void HardSampleFrequenciesMatchTheSoftmaxOfTheLogits()
    {
        float[] probabilities = [0.1f, 0.2f, 0.3f, 0.15f, 0.25f];
        const int draws = 20_000;
        var logits = F.Log(Tensor.FromArray(probabilities, 1, 5)).Expand(draws, 5);
        var samples = F.GumbelSoftmax(logits, tau: 2f, hard: true, generator: new Generator(11)).ToArray();
        var counts = new int[5];
        for (int i = 0; i < draws; i++)
            for (int j = 0; j < 5; j++)
                counts[j] += samples[i * 5 + j] == 1f ? 1 : 0;
        Assert.Equal(draws, counts.Sum());
        for (int j = 0; j < 5; j++)
            Assert.InRange(counts[j] / (double)draws, probabilities[j] - 0.015, probabilities[j] + 0.015);
    }

    [Fact]
    public void HardOutputIsExactlyOneHotAlongDimWithTheSoftGradient()
    {
        var logits = Tensor.Randn([4, 6, 3], new Generator(1));
        var noise = F.GumbelNoise([4, 6, 3], new Generator(2));
        var upstream = Tensor.Randn([4, 6, 3], new Generator(3));

        var hardLeaf = logits.Detach().RequireGrad();
        var hard = F.GumbelSoftmaxWithNoise(hardLeaf, noise, tau: 0.5f, hard: true, dim: 1);
        F.Sum(hard * upstream).Backward();
        var softLeaf = logits.Detach().RequireGrad();
        var soft = F.GumbelSoftmaxWithNoise(softLeaf, noise, tau: 0.5f, hard: false, dim: 1);
        F.Sum(soft * upstream).Backward();

        var values = hard.ToArray();
        Assert.All(values, v => Assert.True(v is 0f or 1f, $"hard sample holds {v}, expected exactly 0 or 1"));
        Assert.All(F.Sum(hard, 1).ToArray(), s => Assert.Equal(1f, s));
        var expectedIndex = F.Argmax(soft, 1).ToArray<long>();
        Assert.Equal(expectedIndex, F.Argmax(hard, 1).ToArray<long>());
        Assert.Equal(softLeaf.Grad!.ToArray(), hardLeaf.Grad!.ToArray());
    }

    [Fact]
    public void LowTemperatureApproachesOneHotAndHighTemperatureApproachesUniform()
    {
        var logits = Tensor.FromArray([1f, 2f, 0.5f, -1f], 1, 4);
        var noise = Tensor.Zeros(1, 4);
        var cold = F.GumbelSoftmaxWithNoise(logits, noise, tau: 0.01f).ToArray();
        var hot = F.GumbelSoftmaxWithNoise(logits, noise, tau: 1000f).ToArray();
        Assert.Equal(1f, cold[1], 1e-5f);
        Assert.All(hot, p => Assert.Equal(0.25f, p, 1e-3f));
    }
}
