using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Xunit;

namespace Tessera.Tests.Engine;

public sealed class RandomTests
{
    [Fact]
    public void PhiloxMatchesRandom123KnownAnswers()
    {
        // Known-answer vectors of philox4x32_10 from Random123 (kat_vectors).
        Assert.Equal((0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u), Philox.Block(0, 0, 0, 0, 0, 0));
        Assert.Equal((0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu),
            Philox.Block(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff));
        Assert.Equal((0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u),
            Philox.Block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
    }

    [Fact]
    public void SameSeedGivesSameNumbersWhateverTheThreadCount()
    {
        var serial = new float[100_003];
        var parallel = new float[100_003];
        using (CpuParallel.WithThreads(1)) new Generator(42).Normal(serial);
        using (CpuParallel.WithThreads(2)) new Generator(42).Normal(parallel);
        Assert.Equal(serial, parallel);
        var other = new float[100_003];
        new Generator(43).Normal(other);
        Assert.NotEqual(serial, other);
    }

    [Fact]
    public void StateRestoreResumesTheStream()
    {
        var generator = new Generator(5);
        generator.Uniform(new float[10]);
        var (seed, offset) = generator.GetState();
        var expected = new float[7];
        generator.Uniform(expected);
        var resumed = new Generator(0);
        resumed.SetState(seed, offset);
        var actual = new float[7];
        resumed.Uniform(actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void UniformAndNormalHaveTheRightMoments()
    {
        var u = new float[200_000];
        new Generator(1).Uniform(u);
        Assert.InRange(u.Average(), 0.497, 0.503);
        Assert.True(u.All(v => v is >= 0f and < 1f));
        var n = new float[200_000];
        new Generator(2).Normal(n, mean: 1f, std: 2f);
        double mean = n.Average();
        double variance = n.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, 0.98, 1.02);
        Assert.InRange(variance, 3.95, 4.05);
    }
}
