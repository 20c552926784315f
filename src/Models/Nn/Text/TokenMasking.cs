using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;

namespace Tessera.Models.Nn.Text;

/// <summary>
/// Text-side corruption of caption tokens [B, L] (int64 over <see cref="CaptionVocabulary"/>):
/// BERT's masked-language-model inputs and word dropout as a text augmentation. Only word tokens
/// are touched (never Pad, Begin or End), so sentence boundaries and pooling positions stay put.
/// </summary>
public static class TokenMasking
{
    /// <summary>Target value for positions that do not count in the MLM loss (F.CrossEntropy's default ignoreIndex).</summary>
    public const long Ignore = -100;

    /// <summary>
    /// Picks each word token with probability <paramref name="ratio"/> (at least one per caption
    /// that has words); of the picked: 80% become Unknown (the vocabulary's [MASK] stand-in — the
    /// caption grammar never produces it), 10% a random word, 10% stay. Targets hold the original
    /// id at picked positions and <see cref="Ignore"/> elsewhere: F.CrossEntropy(logits [B·L, V],
    /// targets [B·L]) is then the MLM loss over masked positions only.
    /// </summary>
    public static (Tensor Inputs, Tensor Targets) ForLanguageModel(Tensor tokens, float ratio, Generator generator)
    {
        var (ids, batchSize, length) = Read(tokens, ratio, generator, "ForLanguageModel");
        var inputs = (long[])ids.Clone();
        var targets = new long[ids.Length];
        Array.Fill(targets, Ignore);
        var draws = new float[3 * ids.Length];
        generator.Uniform(draws);
        int vocabulary = CaptionVocabulary.Count;
        for (int b = 0; b < batchSize; b++)
        {
            int picked = 0, firstWord = -1;
            for (int t = 0; t < length; t++)
            {
                int i = b * length + t;
                if (!IsWord(ids[i])) continue;
                if (firstWord < 0) firstWord = i;
                if (draws[3 * i] >= ratio) continue;
                Corrupt(i);
                picked++;
            }
            if (picked == 0 && firstWord >= 0) Corrupt(firstWord); // every caption contributes to the loss
        }
        return (Tensor.FromArray(inputs, batchSize, length).To(tokens.Device), Tensor.FromArray(targets, batchSize, length).To(tokens.Device));

        void Corrupt(int i)
        {
            targets[i] = ids[i];
            float kind = draws[3 * i + 1];
            if (kind < 0.8f) inputs[i] = CaptionVocabulary.Unknown;
            else if (kind < 0.9f) inputs[i] = CaptionVocabulary.Unknown + 1 + (long)(draws[3 * i + 2] * (vocabulary - CaptionVocabulary.Unknown - 1));
        }
    }

    /// <summary>
    /// Word dropout: each word token is removed with probability <paramref name="ratio"/> (the
    /// rest shift left, the End token follows them, Pad fills the tail); a caption keeps at least
    /// one word.
    /// </summary>
    public static Tensor Drop(Tensor tokens, float ratio, Generator generator)
    {
        var (ids, batchSize, length) = Read(tokens, ratio, generator, "Drop");
        var draws = new float[ids.Length];
        generator.Uniform(draws);
        var result = new long[ids.Length];
        for (int b = 0; b < batchSize; b++)
        {
            int words = 0;
            for (int t = 0; t < length; t++) if (IsWord(ids[b * length + t])) words++;
            int kept = 0, written = 0;
            for (int t = 0; t < length; t++)
            {
                int i = b * length + t;
                long id = ids[i];
                if (id == CaptionVocabulary.Pad) continue;
                bool isLastChance = IsWord(id) && kept == 0 && words == 1;
                if (IsWord(id))
                {
                    words--;
                    if (draws[i] < ratio && !isLastChance) continue;
                    kept++;
                }
                result[b * length + written++] = id;
            }
        }
        return Tensor.FromArray(result, batchSize, length).To(tokens.Device);
    }

    private static bool IsWord(long id) => id > CaptionVocabulary.Unknown;

    private static (long[] Ids, int BatchSize, int Length) Read(Tensor tokens, float ratio, Generator generator, string op)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(generator);
        if (tokens.Rank != 2 || tokens.DType != Engine.DType.Int64)
            throw new TensorShapeException($"TokenMasking.{op}: expected tokens [B, L] int64, found {tokens.DType.Name()} {Shapes.Format(tokens.Shape)}", nameof(tokens));
        if (!(ratio is >= 0f and < 1f))
            throw new ArgumentOutOfRangeException(nameof(ratio), ratio, $"TokenMasking.{op}: 'ratio' expected in [0, 1), found {ratio}");
        return (tokens.ToArray<long>(), tokens.Size(0), tokens.Size(1));
    }
}
