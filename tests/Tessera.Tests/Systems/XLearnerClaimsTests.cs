using Tessera.Models.Experiments;
using Tessera.Models.Systems.XLearner;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>X-Learner's claims through the shared rule, on constructed per-seed results (no training).</summary>
public sealed class XLearnerClaimsTests
{
    private static readonly DownstreamSettings Downstream = new(["down-shapes", "down-textures", "down-colours"], 100, 400, 10, 1, 1, 10);

    private static ArmResult Arm(string name, double avgCls, double ap50 = 5, double upstream = 0.5) => new(name,
        new Dictionary<string, double> { ["shapes-cls/top1"] = upstream, ["fine-cls/top1"] = upstream, ["scenes-cls/top1"] = upstream, ["objects-det/mAP"] = upstream },
        new DownstreamResult(new Dictionary<string, double> { ["down-shapes"] = avgCls, ["down-textures"] = avgCls, ["down-colours"] = avgCls }, 1, ap50), 1000, 1,
        new Dictionary<string, IReadOnlyList<CurvePoint>>());

    /// <summary>One seed where X-Learner leads hard sharing by <paramref name="lead"/> AVG Cls points and X-Learner_p trails it by 0.5.</summary>
    private static XLearnerSeedResult Seed(ulong seed, double lead, double noise) => new(seed,
        [
            Arm("Single-source (shapes-cls)", 30 + noise), Arm("Hard-sharing", 40 + noise), Arm("X-Learner", 40 + lead + noise),
            Arm("X-Learner_p", 39.5 + lead + noise), Arm("X-Learner w/o Rec", 40 + lead + noise), Arm("X-Learner_t", 60 + noise), Arm("X-Learner_r", 40 + lead + noise),
        ],
        [Arm("Hard-sharing (+OOD)", 40, upstream: 0.45), Arm("X-Learner (+OOD)", 40, upstream: 0.5)],
        new Dictionary<string, double>(), 2000);

    private static ClaimRecord Find(IReadOnlyList<ClaimRecord> claims, string start) => claims.Single(c => c.Claim.StartsWith(start, StringComparison.Ordinal));

    [Fact]
    public void ThreeSeedsArePairedBySeed()
    {
        // Seeds differ by ±10 points, the lead is 4.9-5.1 in every seed.
        var results = new[] { Seed(0, 5.0, 0), Seed(1, 4.9, 10), Seed(2, 5.1, -10) };
        var claims = XLearnerClaims.Judge(results, new XLearnerSettings(), Downstream, "cmd");
        Assert.Equal(8, claims.Count);
        Assert.All(claims, c => Assert.Equal(ClaimCatalogue.Paper("xlearner", c.Claim), c.Paper));
        Assert.Equal(ClaimVerdict.Holds, Find(claims, "X-Learner beats hard sharing downstream").Verdict);
        Assert.Equal(5.0, Find(claims, "X-Learner beats hard sharing downstream").Gap, 1e-9);
        Assert.Equal(ClaimVerdict.Tie, Find(claims, "X-Learner beats hard sharing on detection").Verdict); // equal AP50: gap 0, SE 0
        Assert.Equal(ClaimVerdict.DoesNotHold, Find(claims, "Bottom-up beats top-down").Verdict);
        Assert.NotNull(Find(claims, "Bottom-up beats top-down").Why);
        // Pruning within 0.5 points in every seed: inside the 2-point margin by far more than 2 SE.
        var pruning = Find(claims, "Pruning (X-Learner_p)");
        Assert.Equal(ClaimVerdict.Holds, pruning.Verdict);
        Assert.Equal(1.5, pruning.Gap, 1e-9);
        Assert.Null(pruning.Why);
        // Adding OOD sources: hard sharing loses 5 points of base upstream, X-Learner none.
        var ood = Find(claims, "Out-of-domain sources");
        Assert.Equal(5.0, ood.Gap, 1e-9);
        Assert.Equal(ClaimVerdict.Holds, ood.Verdict);
    }

    [Fact]
    public void OneSeedFallsBackToTheBinomialErrorOfTheProbes()
    {
        var claims = XLearnerClaims.Judge([Seed(0, 5.0, 0)], new XLearnerSettings(), Downstream, "cmd");
        var main = Find(claims, "X-Learner beats hard sharing downstream");
        // Three suites of 400 images at 45% vs 40%: √(3·(0.2475 + 0.24)/400)/3 = 2.016 points; gap 5 > 2·2.016.
        Assert.Equal(100 * Math.Sqrt(3 * (0.45 * 0.55 + 0.4 * 0.6) / 400) / 3, main.StandardError, 1e-9);
        Assert.Equal(ClaimVerdict.Holds, main.Verdict);
        Assert.Contains("binomial", main.ErrorBasis, StringComparison.Ordinal);
        // Detection has no one-seed error: a tie, whatever the gap.
        Assert.True(double.IsNaN(Find(claims, "X-Learner beats hard sharing on detection").StandardError));
    }
}
