using Tessera.Autograd;
using Tessera.Models.Data.World;
using Tessera.Models.Recipes;

namespace Tessera.Models.Systems.Eva;

/// <summary>
/// CLIP's zero-shot classifier: each class name is put into every prompt template, the text tower
/// embeds the prompts, each class's embeddings are L2-normalised, averaged over templates and
/// normalised again (CLIP's prompt ensembling); an image is classified by the largest
/// scale · cos(image, class). Templates may only use caption words (<see cref="CaptionVocabulary"/>):
/// the text tower has never seen any other ("a photo of a {class}" would read "photo" as unknown),
/// so the default ensemble is "a {colour} {class}" over the 12 colour words, as captions name an
/// object's colour before its shape.
/// </summary>
public static class ZeroShot
{
    /// <summary>Where a template takes the class name.</summary>
    public const string Placeholder = "{class}";

    /// <summary>"a red {class}", "a orange {class}", ... (one per colour word).</summary>
    public static IReadOnlyList<string> DefaultTemplates { get; } = Palettes.Names.Select(c => $"a {c} {Placeholder}").ToArray();

    /// <summary>Throws, naming <paramref name="field"/>, unless every template holds the placeholder and only caption words.</summary>
    public static void CheckTemplates(IReadOnlyList<string> templates, string field)
    {
        ArgumentNullException.ThrowIfNull(templates);
        if (templates.Count == 0)
            throw new ArgumentException($"eva: '{field}' expected at least one prompt template such as \"a red {Placeholder}\", found none", field);
        foreach (var template in templates)
        {
            if (template is null || !template.Contains(Placeholder, StringComparison.Ordinal))
                throw new ArgumentException($"eva: '{field}' expected every prompt template to contain the class placeholder \"{Placeholder}\" (e.g. \"a red {Placeholder}\"), found \"{template}\"", field);
            var unknown = template.Replace(Placeholder, "", StringComparison.Ordinal).Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Where(w => !CaptionVocabulary.Words.Contains(w)).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"eva: '{field}' template \"{template}\" uses words the captions never use ({string.Join(", ", unknown)}); expected caption words only: {string.Join(" ", CaptionVocabulary.Words.Skip(4))}", field);
        }
    }

    /// <summary>Prompt tokens [C·T, L] (class-major: class c's templates are rows c·T .. c·T + T − 1).</summary>
    public static Tensor PromptTokens(IReadOnlyList<string> classNames, IReadOnlyList<string> templates, int contextLength)
    {
        CheckTemplates(templates, "prompts");
        var tokens = new long[classNames.Count * templates.Count * contextLength];
        int row = 0;
        foreach (var name in classNames)
            foreach (var template in templates)
                CaptionVocabulary.Encode(template.Replace(Placeholder, name, StringComparison.Ordinal), tokens.AsSpan(row++ * contextLength, contextLength));
        return Tensor.FromArray(tokens, classNames.Count * templates.Count, contextLength);
    }

    /// <summary>Class weights [C, E] from prompt embeddings [C, T, E]: normalise, mean over templates, normalise.</summary>
    public static Tensor ClassifierWeights(Tensor textEmbeddings)
    {
        ArgumentNullException.ThrowIfNull(textEmbeddings);
        if (textEmbeddings.Rank != 3)
            throw new ArgumentException($"eva zero-shot: text embeddings expected [classes, templates, dim], found rank {textEmbeddings.Rank}", nameof(textEmbeddings));
        return Functional.Normalize(Functional.Normalize(textEmbeddings, dim: -1).Mean(1), dim: -1);
    }

    /// <summary>Logits [B, C] = scale · normalise(image) · weightsᵀ.</summary>
    public static Tensor Logits(Tensor imageEmbeddings, Tensor weights, Tensor scale) =>
        Functional.Normalize(imageEmbeddings, dim: -1).Matmul(weights.Transpose(0, 1)) * scale;

    /// <summary>The classifier of <paramref name="clip"/> over <paramref name="classNames"/> (no gradient).</summary>
    public static Tensor Classifier(ClipModel clip, IReadOnlyList<string> classNames, IReadOnlyList<string> templates)
    {
        using var noGrad = GradMode.NoGrad();
        using var tokens = PromptTokens(classNames, templates, clip.Config.ContextLength);
        var embeddings = clip.EncodeText(tokens).Reshape(classNames.Count, templates.Count, clip.Config.EmbedDim);
        return ClassifierWeights(embeddings);
    }

    /// <summary>
    /// Zero-shot top-1 (%) on the first <paramref name="count"/> test images of <paramref name="sourceName"/>
    /// (all of them where its test split is smaller: one count serves the unbounded captions source and a fixed suite), classes = its class names.
    /// </summary>
    public static double Top1(ClipModel clip, string sourceName, int count, IReadOnlyList<string> templates)
    {
        var source = WorldSources.Get(sourceName);
        count = Math.Min(count, WorldGenerator.SplitLength(source, "test", WorldTaskSource.WorldSeed) ?? count);
        var classNames = source.ClassNames();
        bool training = clip.Training;
        clip.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            using var outer = new TensorScope();
            var weights = Classifier(clip, classNames, templates);
            int correct = 0, seen = 0;
            const int batchSize = 100;
            for (int start = 0; start < count; start += batchSize)
            {
                using var scope = new TensorScope();
                var indices = Enumerable.Range(start, Math.Min(batchSize, count - start)).Select(i => (long)i).ToArray();
                var batch = WorldBatch.Create(source, "test", indices, WorldTaskSource.WorldSeed, clip.Config.ImageSize);
                var predicted = clip.EncodeImage(batch.Images).Matmul(weights.Transpose(0, 1)).Argmax(1).ToArray<long>();
                var truth = batch.Classes.ToArray<long>();
                for (int i = 0; i < truth.Length; i++) correct += predicted[i] == truth[i] ? 1 : 0;
                seen += truth.Length;
            }
            return 100.0 * correct / seen;
        }
        finally
        {
            clip.Train(training);
        }
    }
}
