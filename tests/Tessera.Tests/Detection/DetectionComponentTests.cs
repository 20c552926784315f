using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Detection;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Detection;

/// <summary>Anchors, matcher, sampler and box coder against hand-computed values.</summary>
public sealed class DetectionComponentTests
{
    [Fact]
    public void CellAnchorsAreRoundedHalfToEvenRatioMajor()
    {
        // ratio 0.5, size 32: h = sqrt(.5)·32 = 22.63, w = 45.25 -> ±11.31, ±22.63 -> 11, 23.
        // ratio 1, size 3: ±1.5 rounds half to even -> ±2.
        var anchors = AnchorGenerator.CellAnchors([32f, 3f], [0.5f, 1f]);
        Assert.Equal(new float[]
        {
            -23, -11, 23, 11,   // r 0.5, s 32
            -2, -1, 2, 1,       // r 0.5, s 3: w/2 = 2.12 -> 2, h/2 = 1.06 -> 1
            -16, -16, 16, 16,   // r 1, s 32
            -2, -2, 2, 2,       // r 1, s 3: ±1.5 -> ±2 (half to even)
        }, anchors);
    }

    [Fact]
    public void GridAnchorsShiftByIntegerStrideCellMajor()
    {
        var generator = new AnchorGenerator([[4f]], [[1f]]);
        // Image 10x9, feature 3x2: strides 10/3 = 3 (rows), 9/2 = 4 (columns).
        var anchors = generator.LevelAnchors(0, 3, 2, 10, 9);
        Assert.Equal(new float[]
        {
            -2, -2, 2, 2,   2, -2, 6, 2,
            -2, 1, 2, 5,    2, 1, 6, 5,
            -2, 4, 2, 8,    2, 4, 6, 8,
        }, anchors);
        Assert.Equal(1, generator.AnchorsPerLocation(0));
        Assert.Throws<ArgumentException>(() => generator.Anchors([(3, 2), (1, 1)], (10, 9)));
        Assert.Throws<ArgumentException>(() => new AnchorGenerator([[4f], [8f]], [[1f]]));
        Assert.Throws<ArgumentException>(() => new AnchorGenerator([[-4f]], [[1f]]));
    }

    [Fact]
    public void MatcherThresholdsAndLowQualityMatches()
    {
        // 2 ground truths x 5 predictions.
        float[] quality =
        {
            0.80f, 0.50f, 0.10f, 0.20f, 0.00f,
            0.30f, 0.60f, 0.25f, 0.20f, 0.00f,
        };
        var strict = new Matcher(0.7f, 0.3f, allowLowQualityMatches: false).Match(quality, 2, 5);
        // best: p0 -> g0 .80 (match), p1 -> g1 .60 (between), p2 -> g1 .25 (below), p3 tie .20 -> g0 (below), p4 -> 0 (below).
        Assert.Equal([0, Matcher.BetweenThresholds, Matcher.BelowLowThreshold, Matcher.BelowLowThreshold, Matcher.BelowLowThreshold], strict);
        var lowQuality = new Matcher(0.7f, 0.3f, allowLowQualityMatches: true).Match(quality, 2, 5);
        // g1's best quality is .60 at p1: p1 gets its own best match (g1) back.
        Assert.Equal([0, 1, Matcher.BelowLowThreshold, Matcher.BelowLowThreshold, Matcher.BelowLowThreshold], lowQuality);
        Assert.All(new Matcher(0.7f, 0.3f).Match([], 0, 3), m => Assert.Equal(Matcher.BelowLowThreshold, m));
        Assert.Throws<ArgumentException>(() => new Matcher(0.3f, 0.7f));
        Assert.Throws<ArgumentException>(() => new Matcher(0.7f, 0.3f).Match(quality, 2, 4));
    }

    [Fact]
    public void SamplerBalancesCapsAndIsDeterministic()
    {
        var labels = new int[100];
        for (int i = 0; i < 100; i++) labels[i] = i < 10 ? 1 : i < 90 ? 0 : -1;
        var sampler = new BalancedPositiveNegativeSampler(16, 0.25f);
        var (pos, neg) = sampler.Sample(labels, new Generator(4));
        Assert.Equal(4, pos.Length);
        Assert.Equal(12, neg.Length);
        Assert.All(pos, i => Assert.Equal(1, labels[i]));
        Assert.All(neg, i => Assert.Equal(0, labels[i]));
        Assert.Equal(pos.Order().ToArray(), pos);
        Assert.Equal(pos.Length, pos.Distinct().Count());
        var again = sampler.Sample(labels, new Generator(4));
        Assert.Equal(pos, again.Positive);
        Assert.Equal(neg, again.Negative);
        Assert.NotEqual(neg, sampler.Sample(labels, new Generator(5)).Negative);

        // Too few positives: the batch fills with negatives; too few of both: everything is taken.
        var (fewPos, fillNeg) = new BalancedPositiveNegativeSampler(16, 0.5f).Sample([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Generator(0));
        Assert.Equal([0], fewPos);
        Assert.Equal(15, fillNeg.Length);
        var (allPos, allNeg) = new BalancedPositiveNegativeSampler(64, 0.5f).Sample([1, -1, 0, 1], new Generator(0));
        Assert.Equal([0, 3], allPos);
        Assert.Equal([2], allNeg);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BalancedPositiveNegativeSampler(8, 1.5f));
    }

    [Fact]
    public void BoxCoderEncodesHandComputedTargetsAndRoundTrips()
    {
        var coder = new BoxCoder((10f, 10f, 5f, 5f));
        // proposal centre (5, 5), size 10x10; reference centre (6, 4), size 20x5.
        var proposal = Tensor.FromArray(new float[] { 0, 0, 10, 10 }, 1, 4);
        var reference = Tensor.FromArray(new float[] { -4, 1.5f, 16, 6.5f }, 1, 4);
        var targets = coder.EncodeSingle(reference, proposal).ToArray();
        float[] expected = [10f * 1 / 10, 10f * -1 / 10, 5f * MathF.Log(2f), 5f * MathF.Log(0.5f)];
        for (int i = 0; i < 4; i++) Assert.True(MathF.Abs(targets[i] - expected[i]) < 1e-5f, $"target {i}: {targets[i]} vs {expected[i]}");
        var decoded = coder.DecodeSingle(Tensor.FromArray(targets, 1, 4), proposal).ToArray();
        float[] referenceValues = reference.ToArray();
        for (int i = 0; i < 4; i++) Assert.True(MathF.Abs(decoded[i] - referenceValues[i]) < 1e-4f, $"decoded {i}: {decoded[i]} vs {referenceValues[i]}");

        // Random round trip with the RPN's unit weights.
        var generator = new Generator(9);
        var xy = Tensor.Rand([50, 2], generator) * 40f;
        var wh = Tensor.Rand([50, 2], generator) * 20f + 2f;
        var boxes = F.Cat([xy, xy + wh], 1);
        var others = boxes + Tensor.Randn([50, 4], generator).Clamp(-1f, 1f);
        var unit = new BoxCoder((1f, 1f, 1f, 1f));
        var back = unit.DecodeSingle(unit.EncodeSingle(others, boxes), boxes).ToArray();
        var want = others.ToArray();
        for (int i = 0; i < want.Length; i++) Assert.True(MathF.Abs(back[i] - want[i]) < 1e-3f, $"element {i}: {back[i]} vs {want[i]}");
    }
}
