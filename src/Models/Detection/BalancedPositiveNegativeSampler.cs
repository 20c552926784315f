using Tessera.Engine.Random;

namespace Tessera.Models.Detection;

/// <summary>
/// torchvision's BalancedPositiveNegativeSampler: per image, picks at most
/// batchSizePerImage · positiveFraction positives (label ≥ 1) at random and fills the rest of the
/// batch with random negatives (label 0); label -1 is never sampled. Randomness comes from a Philox
/// <see cref="Generator"/>, so a seed fixes the choice (torch's randperm stream is not reproduced).
/// </summary>
public sealed class BalancedPositiveNegativeSampler
{
    public BalancedPositiveNegativeSampler(int batchSizePerImage, float positiveFraction)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSizePerImage, 1);
        if (!(positiveFraction >= 0f && positiveFraction <= 1f))
            throw new ArgumentOutOfRangeException(nameof(positiveFraction), positiveFraction, $"BalancedPositiveNegativeSampler: 'positiveFraction' expected a value in [0, 1], found {positiveFraction}");
        BatchSizePerImage = batchSizePerImage;
        PositiveFraction = positiveFraction;
    }

    public int BatchSizePerImage { get; }

    public float PositiveFraction { get; }

    /// <summary>
    /// The sampled positive and negative indices of <paramref name="labels"/> (one image), each in
    /// increasing index order (torchvision returns masks).
    /// </summary>
    public (int[] Positive, int[] Negative) Sample(IReadOnlyList<int> labels, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(generator);
        var positives = new List<int>();
        var negatives = new List<int>();
        for (int i = 0; i < labels.Count; i++)
        {
            if (labels[i] >= 1) positives.Add(i);
            else if (labels[i] == 0) negatives.Add(i);
        }
        int positiveCount = Math.Min(positives.Count, (int)(BatchSizePerImage * PositiveFraction));
        int negativeCount = Math.Min(negatives.Count, BatchSizePerImage - positiveCount);
        return (Choose(positives, positiveCount, generator), Choose(negatives, negativeCount, generator));
    }

    /// <summary>The first <paramref name="count"/> of a partial Fisher-Yates shuffle, sorted.</summary>
    private static int[] Choose(List<int> candidates, int count, Generator generator)
    {
        var pool = candidates.ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = i + generator.NextInt(pool.Length - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        var chosen = pool.AsSpan(0, count).ToArray();
        Array.Sort(chosen);
        return chosen;
    }
}
