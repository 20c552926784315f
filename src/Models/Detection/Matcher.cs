using Tessera.Autograd;

namespace Tessera.Models.Detection;

/// <summary>
/// torchvision's Matcher: assigns every prediction (anchor or proposal) the ground-truth box it
/// overlaps most, or <see cref="BelowLowThreshold"/> when that best quality is below the low
/// threshold, or <see cref="BetweenThresholds"/> when it lies in [low, high). With
/// allowLowQualityMatches, every prediction that ties for the best quality of some ground-truth
/// box keeps its match even below the thresholds, so each ground truth gets at least one prediction
/// (the RPN uses this; the RoI head does not).
/// </summary>
public sealed class Matcher
{
    /// <summary>Match value of a prediction whose best quality is below the low threshold (background).</summary>
    public const int BelowLowThreshold = -1;

    /// <summary>Match value of a prediction whose best quality lies in [low, high) (ignored).</summary>
    public const int BetweenThresholds = -2;

    public Matcher(float highThreshold, float lowThreshold, bool allowLowQualityMatches = false)
    {
        if (!(lowThreshold <= highThreshold))
            throw new ArgumentException($"Matcher: 'lowThreshold' must not exceed 'highThreshold', found low {lowThreshold} and high {highThreshold}", nameof(lowThreshold));
        HighThreshold = highThreshold;
        LowThreshold = lowThreshold;
        AllowLowQualityMatches = allowLowQualityMatches;
    }

    public float HighThreshold { get; }

    public float LowThreshold { get; }

    public bool AllowLowQualityMatches { get; }

    /// <summary>Matches from a quality (IoU) matrix [groundTruth, predictions]; see <see cref="Match(float[], int, int)"/>.</summary>
    public int[] Match(Tensor matchQualityMatrix)
    {
        ArgumentNullException.ThrowIfNull(matchQualityMatrix);
        if (matchQualityMatrix.Rank != 2)
            throw new ArgumentException($"Matcher: expected a [groundTruth, predictions] quality matrix, found rank {matchQualityMatrix.Rank}", nameof(matchQualityMatrix));
        return Match(matchQualityMatrix.Contiguous().ToArray(), matchQualityMatrix.Size(0), matchQualityMatrix.Size(1));
    }

    /// <summary>
    /// For each of <paramref name="predictionCount"/> predictions, the index of its matched ground
    /// truth, or a negative code. <paramref name="quality"/> is row-major [groundTruthCount, predictionCount].
    /// With no ground truth every prediction is background (torchvision's callers special-case this
    /// the same way). Ties in a prediction's best quality go to the lowest ground-truth index.
    /// </summary>
    public int[] Match(float[] quality, int groundTruthCount, int predictionCount)
    {
        ArgumentNullException.ThrowIfNull(quality);
        if (groundTruthCount < 0 || predictionCount < 0 || quality.Length != groundTruthCount * predictionCount)
            throw new ArgumentException($"Matcher: quality matrix expected {groundTruthCount}x{predictionCount} = {groundTruthCount * predictionCount} values, found {quality.Length}", nameof(quality));
        var matches = new int[predictionCount];
        if (groundTruthCount == 0)
        {
            Array.Fill(matches, BelowLowThreshold);
            return matches;
        }
        var bestQuality = new float[predictionCount];
        for (int p = 0; p < predictionCount; p++)
        {
            int best = 0;
            float value = quality[p];
            for (int g = 1; g < groundTruthCount; g++)
                if (quality[g * predictionCount + p] > value) { value = quality[g * predictionCount + p]; best = g; }
            bestQuality[p] = value;
            matches[p] = best;
        }
        var allMatches = AllowLowQualityMatches ? (int[])matches.Clone() : null;
        for (int p = 0; p < predictionCount; p++)
        {
            if (bestQuality[p] < LowThreshold) matches[p] = BelowLowThreshold;
            else if (bestQuality[p] < HighThreshold) matches[p] = BetweenThresholds;
        }
        if (allMatches is not null)
        {
            // set_low_quality_matches_: every prediction reaching a ground truth's best quality
            // (ties included) gets back its original best match.
            for (int g = 0; g < groundTruthCount; g++)
            {
                float highest = float.NegativeInfinity;
                for (int p = 0; p < predictionCount; p++) highest = MathF.Max(highest, quality[g * predictionCount + p]);
                for (int p = 0; p < predictionCount; p++)
                    if (quality[g * predictionCount + p] == highest) matches[p] = allMatches[p];
            }
        }
        return matches;
    }
}
