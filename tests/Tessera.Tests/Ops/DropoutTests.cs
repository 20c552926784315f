using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Dropout and drop_path: statistics of the Philox masks, modes, the backward, determinism.</summary>
public sealed class DropoutTests
{
    private const int Count = 100_000;

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    [InlineData(0.8f)]
    public void DropoutKeepsTheExpectationAndDropsAboutP(float p)
    {
        var y = F.Dropout(Tensor.Ones(Count), p, training: true, new Generator(11)).ToArray();
        int zeros = y.Count(v => v == 0f);
        Assert.InRange(zeros / (double)Count, p - 0.01, p + 0.01);
        Assert.All(y, v => Assert.True(v == 0f || MathF.Abs(v - 1f / (1f - p)) < 1e-6f, $"kept values are scaled by 1/(1-p), found {v}"));
        Assert.InRange(y.Average(), 0.97, 1.03);
    }

    [Fact]
    public void DropoutIsTheIdentityInEvalModeAndForPZero()
    {
        var x = Tensor.Randn([3, 7]);
        Assert.Equal(x.ToArray(), F.Dropout(x, 0.5f, training: false).ToArray());
        Assert.Equal(x.ToArray(), F.Dropout(x, 0f, training: true, new Generator(1)).ToArray());
        Assert.Equal(x.ToArray(), F.DropPath(x, 0.5f, training: false).ToArray());
        Assert.Equal(x.ToArray(), F.DropPath(x, 0f, training: true, new Generator(1)).ToArray());
    }

    [Fact]
    public void PEqualsOneGivesZerosAndZeroGradients()
    {
        var x = Tensor.Randn([4, 5]).RequireGrad();
        var y = F.Dropout(x, 1f, training: true, new Generator(2));
        Assert.All(y.ToArray(), v => Assert.Equal(0f, v));
        F.Sum(y).Backward();
        Assert.All(x.Grad!.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(F.DropPath(Tensor.Randn([3, 2]), 1f, training: true, new Generator(2)).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BackwardUsesTheForwardMask()
    {
        var x = (Tensor.Rand([50, 40], new Generator(3)) + 0.5f).Detach().RequireGrad();
        var y = F.Dropout(x, 0.3f, training: true, new Generator(4));
        F.Sum(y).Backward();
        var values = y.ToArray();
        var inputs = x.ToArray();
        var grads = x.Grad!.ToArray();
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(values[i] / inputs[i], grads[i], 1e-5f);
    }

    [Fact]
    public void SameSeedSameMaskWhateverTheThreadCount()
    {
        float[] serial, parallel;
        using (CpuParallel.WithThreads(1))
            serial = F.Dropout(Tensor.Ones(Count), 0.4f, training: true, new Generator(42)).ToArray();
        using (CpuParallel.WithThreads(2))
            parallel = F.Dropout(Tensor.Ones(Count), 0.4f, training: true, new Generator(42)).ToArray();
        Assert.Equal(serial, parallel);
        float[] other = F.Dropout(Tensor.Ones(Count), 0.4f, training: true, new Generator(43)).ToArray();
        Assert.NotEqual(serial, other);

        var generator = new Generator(42);
        var first = F.Dropout(Tensor.Ones(1000), 0.4f, training: true, generator).ToArray();
        var second = F.Dropout(Tensor.Ones(1000), 0.4f, training: true, generator).ToArray();
        Assert.NotEqual(first, second); // the stream advances between calls
    }

    [Fact]
    public void DropPathDropsWholeSamples()
    {
        const int samples = 20_000;
        const float p = 0.25f;
        var y = F.DropPath(Tensor.Ones(samples, 3, 2), p, training: true, new Generator(5)).ToArray();
        int dropped = 0;
        for (int n = 0; n < samples; n++)
        {
            var sample = y.AsSpan(n * 6, 6);
            bool zero = sample[0] == 0f;
            foreach (float v in sample)
                Assert.Equal(zero ? 0f : 1f / (1f - p), v, 1e-6f);
            if (zero) dropped++;
        }
        Assert.InRange(dropped / (double)samples, p - 0.015, p + 0.015);
        Assert.InRange(y.Average(), 0.97, 1.03);

        float[] serial, parallel;
        using (CpuParallel.WithThreads(1))
            serial = F.DropPath(Tensor.Ones(samples, 2), p, training: true, new Generator(6)).ToArray();
        using (CpuParallel.WithThreads(2))
            parallel = F.DropPath(Tensor.Ones(samples, 2), p, training: true, new Generator(6)).ToArray();
        Assert.Equal(serial, parallel);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void RejectsProbabilitiesOutsideZeroOne(float p)
    {
        var x = Tensor.Ones(4);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.Dropout(x, p));
        Assert.Contains("dropout", error.Message, StringComparison.Ordinal);
        Assert.Contains("'p'", error.Message, StringComparison.Ordinal);
        Assert.Contains("[0, 1]", error.Message, StringComparison.Ordinal);
        Assert.Contains($"found {p}", error.Message, StringComparison.Ordinal);
        error = Assert.Throws<ArgumentOutOfRangeException>(() => F.DropPath(x, p));
        Assert.Contains("drop_path", error.Message, StringComparison.Ordinal);
        // Evaluation mode still validates p, as PyTorch does.
        Assert.Throws<ArgumentOutOfRangeException>(() => F.Dropout(x, p, training: false));
    }
}
