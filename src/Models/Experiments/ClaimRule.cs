using System.Globalization;

namespace Tessera.Models.Experiments;

/// <summary>What the measurements say about one paper claim.</summary>
public enum ClaimVerdict
{
    /// <summary>The gap is in the paper's direction by more than twice its standard error.</summary>
    Holds,
    /// <summary>The gap is within ±2 standard errors (or no error could be estimated): neither confirmed nor contradicted.</summary>
    Tie,
    /// <summary>The gap is against the paper's direction by more than twice its standard error.</summary>
    DoesNotHold,
    /// <summary>The system or arm has not been run yet (the ledger lists the claim anyway).</summary>
    NotYetRun,
}

/// <summary>
/// The judgement of one claim: <see cref="Gap"/> is signed so that positive means "as the paper
/// says"; <see cref="StandardError"/> is the standard error of that gap (NaN when none could be
/// estimated); <see cref="ErrorBasis"/> says how it was computed.
/// </summary>
public sealed record ClaimJudgement(double Gap, double StandardError, ClaimVerdict Verdict, string ErrorBasis)
{
    /// <summary>"holds", "tie", "does not hold" or "not yet run": the words every results page and the ledger use.</summary>
    public string Label => ClaimRule.Label(Verdict);

    /// <summary>"+1.23 ± 0.45 (2 SE 0.90)": the gap with its error, for a results page.</summary>
    public string Describe(string format = "0.00") =>
        double.IsNaN(StandardError)
            ? $"{SignedGap(format)} (no error estimate: {ErrorBasis})"
            : $"{SignedGap(format)} ± {StandardError.ToString(format, CultureInfo.InvariantCulture)} SE ({ErrorBasis})";

    /// <summary>The gap with its sign; one that rounds to zero prints unsigned (the third format section: a two-section format would print "-+0.00").</summary>
    private string SignedGap(string format) => Gap.ToString("+" + format + ";-" + format + ";" + format, CultureInfo.InvariantCulture);
}

/// <summary>
/// The one verdict rule for every paper claim Tessera checks (GPPF, X-Learner, INTERN, HVP-MTL,
/// EVA): a claim holds where its gap exceeds <see cref="Sigmas"/> standard errors in the paper's
/// direction, does not hold where it exceeds them the other way, and is a tie otherwise.
/// <para>
/// The standard error: with n ≥ 2 seeds, the arms are paired by seed (every arm of a seed sees
/// the same data order and initial weights where they share structure), so the error is the
/// sample standard deviation of the per-seed differences over √n. With one seed there is no
/// spread to measure: the caller may pass a fallback (the binomial error of two accuracies on a
/// test split, <see cref="BinomialStandardError"/>); without one the claim is a tie.
/// </para>
/// </summary>
public static class ClaimRule
{
    /// <summary>How many standard errors a gap must exceed to count.</summary>
    public const double Sigmas = 2.0;

    public static string Label(ClaimVerdict verdict) => verdict switch
    {
        ClaimVerdict.Holds => "holds",
        ClaimVerdict.Tie => "tie",
        ClaimVerdict.DoesNotHold => "does not hold",
        ClaimVerdict.NotYetRun => "not yet run",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "unknown verdict"),
    };

    /// <summary>The verdict for a gap (positive = the paper's direction) and its standard error.</summary>
    public static ClaimJudgement FromGap(double gap, double standardError, string basis)
    {
        if (double.IsNaN(gap))
            return new ClaimJudgement(gap, standardError, ClaimVerdict.Tie, basis + "; the gap is not a number (a diverged arm?)");
        if (double.IsNaN(standardError) || standardError < 0)
            return new ClaimJudgement(gap, double.NaN, ClaimVerdict.Tie, basis);
        var verdict = gap > Sigmas * standardError ? ClaimVerdict.Holds
            : gap < -Sigmas * standardError ? ClaimVerdict.DoesNotHold
            : ClaimVerdict.Tie;
        return new ClaimJudgement(gap, standardError, verdict, basis);
    }

    /// <summary>
    /// "Arm A is better than arm B": per-seed values of each (index i = seed i in both lists).
    /// Gap = mean(A − B) (or mean(B − A) when lower is better).
    /// </summary>
    public static ClaimJudgement Better(IReadOnlyList<double> claimedBetter, IReadOnlyList<double> other, bool lowerIsBetter = false,
        double? fallbackStandardError = null, string? fallbackBasis = null)
    {
        ArgumentNullException.ThrowIfNull(claimedBetter);
        ArgumentNullException.ThrowIfNull(other);
        if (claimedBetter.Count == 0 || claimedBetter.Count != other.Count)
            throw new ArgumentException($"ClaimRule.Better: expected the same non-zero number of per-seed values for both arms, found {claimedBetter.Count} and {other.Count}");
        var differences = claimedBetter.Zip(other, (a, b) => lowerIsBetter ? b - a : a - b).ToArray();
        return Paired(differences, fallbackStandardError, fallbackBasis);
    }

    /// <summary>"The value exceeds a constant threshold" (or stays below it when <paramref name="lowerIsBetter"/>).</summary>
    public static ClaimJudgement AtLeast(IReadOnlyList<double> values, double threshold, bool lowerIsBetter = false,
        double? fallbackStandardError = null, string? fallbackBasis = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
            throw new ArgumentException("ClaimRule.AtLeast: expected at least one per-seed value, found none");
        var differences = values.Select(v => lowerIsBetter ? threshold - v : v - threshold).ToArray();
        return Paired(differences, fallbackStandardError, fallbackBasis);
    }

    /// <summary>
    /// Standard error of the difference of two accuracies (in percent) measured on <paramref name="testCount"/>
    /// test samples each: √(p₁(1−p₁)/n + p₂(1−p₂)/n), in percentage points.
    /// </summary>
    public static double BinomialStandardError(double firstPercent, double secondPercent, int testCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(testCount, 1);
        double p1 = Math.Clamp(firstPercent / 100.0, 0, 1), p2 = Math.Clamp(secondPercent / 100.0, 0, 1);
        return 100.0 * Math.Sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / testCount);
    }

    /// <summary>
    /// For a tie measured over <paramref name="seeds"/> ≥ 2 seeds: how many seeds the same gap and the
    /// same per-seed spread would need for the gap to exceed 2 SE (SE shrinks as 1/√n), i.e.
    /// ⌈(2·sd/|gap|)²⌉ with sd = SE·√seeds. Null where there is no spread estimate or no gap. A planning
    /// figure only: the spread itself is uncertain with few seeds.
    /// </summary>
    public static int? SeedsToSeparate(ClaimJudgement judgement, int seeds)
    {
        ArgumentNullException.ThrowIfNull(judgement);
        if (seeds < 2 || double.IsNaN(judgement.StandardError) || double.IsNaN(judgement.Gap) || judgement.Gap == 0) return null;
        double spread = judgement.StandardError * Math.Sqrt(seeds);
        double needed = Math.Pow(Sigmas * spread / Math.Abs(judgement.Gap), 2);
        return needed > 1e6 ? null : Math.Max(seeds, (int)Math.Floor(needed) + 1);
    }

    /// <summary>Mean and sample standard deviation (n − 1; 0 for one value) of per-seed values.</summary>
    public static (double Mean, double Std) MeanStd(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) return (double.NaN, double.NaN);
        double mean = values.Average();
        if (values.Count == 1) return (mean, 0);
        double sum = values.Sum(v => (v - mean) * (v - mean));
        return (mean, Math.Sqrt(sum / (values.Count - 1)));
    }

    /// <summary>"12.3 ± 0.4" (mean ± sample std over seeds), or "12.3" for one seed.</summary>
    public static string FormatMeanStd(IReadOnlyList<double> values, string format = "0.0")
    {
        var (mean, std) = MeanStd(values);
        var inv = CultureInfo.InvariantCulture;
        return values.Count < 2 ? mean.ToString(format, inv) : $"{mean.ToString(format, inv)} ± {std.ToString(format, inv)}";
    }

    private static ClaimJudgement Paired(double[] differences, double? fallbackStandardError, string? fallbackBasis)
    {
        int n = differences.Length;
        var (mean, std) = MeanStd(differences);
        if (n >= 2)
            return FromGap(mean, std / Math.Sqrt(n), $"paired over {n} seeds: std of the per-seed gaps / √{n}");
        if (fallbackStandardError is double se)
            return FromGap(mean, se, fallbackBasis ?? "one seed: the caller's fallback error");
        return FromGap(mean, double.NaN, "one seed: no error estimate");
    }
}
