using Tessera.Models.Experiments;
using Xunit;

namespace Tessera.Tests.Experiments;

/// <summary>
/// The shared verdict rule on constructed inputs: holds / tie / does not hold on both sides of the
/// 2-SE boundary, paired by seed, lower-is-better, thresholds, and one seed with and without a
/// fallback standard error.
/// </summary>
public sealed class ClaimRuleTests
{
    /// <summary>Two per-seed lists whose differences are gap − 1 and gap + 1: mean = gap, sample std = √2, SE = √2/√2 = 1.</summary>
    private static (double[] Better, double[] Other) WithGap(double gap) => ([50 + gap - 1, 60 + gap + 1], [50, 60]);

    [Theory]
    [InlineData(2.01, ClaimVerdict.Holds)]
    [InlineData(1.99, ClaimVerdict.Tie)]
    [InlineData(0.0, ClaimVerdict.Tie)]
    [InlineData(-1.99, ClaimVerdict.Tie)]
    [InlineData(-2.01, ClaimVerdict.DoesNotHold)]
    public void PairedOverSeedsAtTheTwoSeBoundary(double gap, ClaimVerdict expected)
    {
        var (better, other) = WithGap(gap);
        var judgement = ClaimRule.Better(better, other);
        Assert.Equal(gap, judgement.Gap, 1e-9);
        Assert.Equal(1.0, judgement.StandardError, 1e-9);
        Assert.Equal(expected, judgement.Verdict);
        Assert.Contains("2 seeds", judgement.ErrorBasis, StringComparison.Ordinal);
    }

    [Fact]
    public void ExactlyTwoStandardErrorsIsATieOnBothSides()
    {
        Assert.Equal(ClaimVerdict.Tie, ClaimRule.FromGap(2.0, 1.0, "test").Verdict);
        Assert.Equal(ClaimVerdict.Tie, ClaimRule.FromGap(-2.0, 1.0, "test").Verdict);
        Assert.Equal(ClaimVerdict.Holds, ClaimRule.FromGap(Math.BitIncrement(2.0), 1.0, "test").Verdict);
        Assert.Equal(ClaimVerdict.DoesNotHold, ClaimRule.FromGap(Math.BitDecrement(-2.0), 1.0, "test").Verdict);
    }

    [Fact]
    public void PairingBySeedRemovesTheSpreadBetweenSeeds()
    {
        // Seeds differ by 20 points, but A beats B by 1.0-1.2 in every seed: paired, that is a clear win.
        var judgement = ClaimRule.Better([31.0, 51.2, 71.1], [30.0, 50.0, 70.0]);
        Assert.Equal(ClaimVerdict.Holds, judgement.Verdict);
        Assert.Equal(1.1, judgement.Gap, 1e-9);
        Assert.Equal(0.1 / Math.Sqrt(3), judgement.StandardError, 1e-9);
    }

    [Fact]
    public void LowerIsBetterFlipsTheSign()
    {
        // AbsRel 0.50 vs 0.60 in both seeds: A is better when lower is better, worse otherwise.
        var holds = ClaimRule.Better([0.50, 0.51], [0.60, 0.62], lowerIsBetter: true);
        Assert.Equal(ClaimVerdict.Holds, holds.Verdict);
        Assert.True(holds.Gap > 0);
        Assert.Equal(ClaimVerdict.DoesNotHold, ClaimRule.Better([0.50, 0.51], [0.60, 0.62]).Verdict);
    }

    [Fact]
    public void OneSeedWithoutAFallbackIsATie()
    {
        var judgement = ClaimRule.Better([90.0], [10.0]);
        Assert.Equal(ClaimVerdict.Tie, judgement.Verdict);
        Assert.Equal(80.0, judgement.Gap);
        Assert.True(double.IsNaN(judgement.StandardError));
        Assert.Equal("tie", judgement.Label);
    }

    [Fact]
    public void OneSeedWithABinomialFallback()
    {
        // 60% vs 50% on 400 images: SE = 100·√((0.24 + 0.25)/400) = 3.5 points, so 2 SE = 7.
        double se = ClaimRule.BinomialStandardError(60, 50, 400);
        Assert.Equal(3.5, se, 1e-9);
        var holds = ClaimRule.Better([60.0], [50.0], fallbackStandardError: se, fallbackBasis: "binomial, 400 test images");
        Assert.Equal(ClaimVerdict.Holds, holds.Verdict);
        Assert.Equal("binomial, 400 test images", holds.ErrorBasis);
        // 55% vs 50%: gap 5 < 2·3.5 → tie; 40% vs 50%: gap −10 < −7 → does not hold.
        Assert.Equal(ClaimVerdict.Tie, ClaimRule.Better([55.0], [50.0], fallbackStandardError: ClaimRule.BinomialStandardError(55, 50, 400)).Verdict);
        Assert.Equal(ClaimVerdict.DoesNotHold, ClaimRule.Better([40.0], [50.0], fallbackStandardError: ClaimRule.BinomialStandardError(40, 50, 400)).Verdict);
        // With two or more seeds the fallback is ignored: the spread over seeds decides.
        var paired = ClaimRule.Better([60.0, 40.0], [50.0, 50.0], fallbackStandardError: 0.001);
        Assert.Equal(ClaimVerdict.Tie, paired.Verdict);
        Assert.Equal(10.0, paired.StandardError, 1e-9);
    }

    [Fact]
    public void ThresholdClaims()
    {
        Assert.Equal(ClaimVerdict.Holds, ClaimRule.AtLeast([0.95, 0.96, 0.97], 0.9).Verdict);
        Assert.Equal(ClaimVerdict.DoesNotHold, ClaimRule.AtLeast([0.80, 0.82, 0.81], 0.9).Verdict);
        Assert.Equal(ClaimVerdict.Tie, ClaimRule.AtLeast([0.85, 0.95, 0.90], 0.9).Verdict);
        Assert.Equal(ClaimVerdict.Holds, ClaimRule.AtLeast([0.2, 0.3], 0.5, lowerIsBetter: true).Verdict);
    }

    [Fact]
    public void NotANumberGapIsATieAndBadInputIsAnError()
    {
        Assert.Equal(ClaimVerdict.Tie, ClaimRule.Better([double.NaN, 1.0], [0.0, 0.0]).Verdict);
        var error = Assert.Throws<ArgumentException>(() => ClaimRule.Better([1.0, 2.0], [1.0]));
        Assert.Contains("2 and 1", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ClaimRule.Better([], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClaimRule.BinomialStandardError(50, 50, 0));
    }

    [Fact]
    public void SeedsToSeparateATie()
    {
        // Gap 1 with SE 1 over 2 seeds: sd = √2, so n must exceed (2·√2/1)² = 8: nine seeds (at eight, 2 SE is exactly 1).
        var tie = ClaimRule.FromGap(1.0, 1.0, "test");
        Assert.Equal(9, ClaimRule.SeedsToSeparate(tie, 2));
        Assert.Equal(ClaimVerdict.Holds, ClaimRule.FromGap(1.0, Math.Sqrt(2) / Math.Sqrt(9), "test").Verdict);
        Assert.Equal(ClaimVerdict.Tie, ClaimRule.FromGap(1.0, Math.Sqrt(2) / Math.Sqrt(8), "test").Verdict);
        Assert.Null(ClaimRule.SeedsToSeparate(tie, 1));
        Assert.Null(ClaimRule.SeedsToSeparate(ClaimRule.FromGap(0.0, 1.0, "test"), 3));
        Assert.Null(ClaimRule.SeedsToSeparate(ClaimRule.FromGap(1.0, double.NaN, "test"), 3));
        var line = ClaimRecord.From("s", "A beats B", "paper", "ours", tie, "cmd", "why").ToMarkdown(2);
        Assert.StartsWith("- **tie**: A beats B. Ours: ours; gap +1.00 ± 1.00 SE (test). Paper: paper. Our reading: why", line, StringComparison.Ordinal);
        Assert.EndsWith("about 9 seeds to clear 2 SE.", line, StringComparison.Ordinal);
    }

    [Fact]
    public void MeanStdAndFormatting()
    {
        var (mean, std) = ClaimRule.MeanStd([1.0, 2.0, 3.0]);
        Assert.Equal(2.0, mean);
        Assert.Equal(1.0, std, 1e-12);
        Assert.Equal("2.0 ± 1.0", ClaimRule.FormatMeanStd([1.0, 2.0, 3.0]));
        Assert.Equal("2.0", ClaimRule.FormatMeanStd([2.0]));
    }

    [Fact]
    public void AGapThatRoundsToZeroPrintsUnsigned()
    {
        Assert.Equal("0.00 ± 0.12 SE (paired)", new ClaimJudgement(-0.001, 0.12, ClaimVerdict.Tie, "paired").Describe());
        Assert.Equal("-0.13 ± 0.18 SE (paired)", new ClaimJudgement(-0.13, 0.18, ClaimVerdict.Tie, "paired").Describe());
        Assert.Equal("+0.01 (no error estimate: one seed)", new ClaimJudgement(0.01, double.NaN, ClaimVerdict.Tie, "one seed").Describe());
    }
}
