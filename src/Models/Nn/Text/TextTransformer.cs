using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;

namespace Tessera.Models.Nn.Text;

/// <summary>
/// A small text transformer over caption tokens (the world's <see cref="CaptionVocabulary"/>):
/// token embedding + learned positions, pre-norm <see cref="VitBlock"/>s, final LayerNorm.
/// Padding tokens are masked out of attention. <c>causal</c> = CLIP's text tower (each token
/// sees only earlier ones; the sentence is summarised at its End token); otherwise
/// bidirectional, as a masked-language-model tower (INTERN) needs. Used by INTERN, EVA's CLIP
/// and any system with image-text pairs.
/// </summary>
public sealed class TextTransformer : Layer
{
    private readonly List<VitBlock> _blocks;
    [Unregistered] // a cached constant
    private Tensor? _causalMask;

    public TextTransformer(int vocabularySize = -1, int contextLength = CaptionVocabulary.MaxLength, int width = 64, int depth = 2, int heads = 4,
        bool causal = false, Generator? generator = null)
    {
        if (vocabularySize == -1) vocabularySize = CaptionVocabulary.Count;
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 4);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        if (width < 1 || heads < 1 || width % heads != 0)
            throw new ArgumentException($"TextTransformer: 'width' ({width}) must be a positive multiple of 'heads' ({heads})", nameof(width));
        generator ??= Generator.Default;
        VocabularySize = vocabularySize;
        ContextLength = contextLength;
        Width = width;
        Causal = causal;
        TokenEmbedding = RegisterModule("token_embedding", new Embedding(vocabularySize, width, generator: generator));
        using (GradMode.NoGrad()) TokenEmbedding.Weight.MulInPlace(0.02f); // CLIP: N(0, 0.02)
        PositionEmbedding = RegisterParameter("position_embedding", InitRules.TruncatedNormal([1, contextLength, width], 0.01f, generator));
        _blocks = Enumerable.Range(0, depth).Select(_ => new VitBlock(width, heads, 4f, generator: generator)).ToList();
        Blocks = RegisterModule("blocks", new ModuleList<VitBlock>(_blocks));
        FinalNorm = RegisterModule("ln_final", new LayerNorm(width, 1e-5f));
    }

    public int VocabularySize { get; }
    public int ContextLength { get; }
    public int Width { get; }
    public bool Causal { get; }
    public Embedding TokenEmbedding { get; }
    public Tensor PositionEmbedding { get; }
    public ModuleList<VitBlock> Blocks { get; }
    public LayerNorm FinalNorm { get; }

    /// <summary>tokens [B, L] int64 (L ≤ context) → normalised token features [B, L, width].</summary>
    public Tensor ForwardTokens(Tensor tokens)
    {
        CheckTokens(tokens);
        int batchSize = tokens.Size(0), length = tokens.Size(1);
        var ids = tokens.ToArray<long>();
        var isPad = new bool[ids.Length];
        for (int i = 0; i < ids.Length; i++) isPad[i] = ids[i] == CaptionVocabulary.Pad;
        var padding = Tensor.FromArray(isPad, batchSize, length).To(tokens.Device); // [B, L], true = ignore
        var x = TokenEmbedding.Forward(tokens) + PositionEmbedding.Narrow(1, 0, length);
        var attnMask = Causal ? CausalMask(length) : null;
        foreach (var block in _blocks)
            x = block.Forward(x, padding, attnMask);
        return FinalNorm.Forward(x);
    }

    /// <summary>
    /// One vector per caption [B, width]: the features at each row's End token (CLIP's EOT
    /// pooling; under causal attention the only token that has seen the whole caption).
    /// </summary>
    public Tensor Pool(Tensor tokens, Tensor tokenFeatures)
    {
        ArgumentNullException.ThrowIfNull(tokenFeatures);
        var ends = EndPositions(tokens);
        int batchSize = tokens.Size(0), length = tokens.Size(1);
        // Flattened row index b·L + end_b, then one index_select over [B·L, width].
        var flat = new long[batchSize];
        for (int b = 0; b < batchSize; b++) flat[b] = b * (long)length + ends[b];
        return Functional.IndexSelect(tokenFeatures.Reshape(batchSize * length, Width), 0, Tensor.FromArray(flat, batchSize));
    }

    /// <summary>tokens [B, L] → pooled caption features [B, width].</summary>
    public override Tensor Forward(Tensor input) => Pool(input, ForwardTokens(input));

    /// <summary>The position of the End token of each row; a row without one is a caption longer than the context.</summary>
    public int[] EndPositions(Tensor tokens)
    {
        CheckTokens(tokens);
        int batchSize = tokens.Size(0), length = tokens.Size(1);
        var ids = tokens.ToArray<long>();
        var ends = new int[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            int end = Array.IndexOf(ids, (long)CaptionVocabulary.End, b * length, length);
            if (end < 0)
                throw new ArgumentException($"TextTransformer: caption {b} has no End token within {length} tokens: the caption is longer than the text tower's context; expected at most {length - 2} words — raise the caption length / context_length", nameof(tokens));
            ends[b] = end - b * length;
        }
        return ends;
    }

    private void CheckTokens(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Rank != 2 || (tokens.DType != Engine.DType.Int64 && tokens.DType != Engine.DType.Int32))
            throw new TensorShapeException($"TextTransformer: expected tokens [B, L] int64, found {tokens.DType.Name()} {Shapes.Format(tokens.Shape)}", nameof(tokens));
        if (tokens.Size(1) > ContextLength)
            throw new ArgumentException($"TextTransformer: captions of {tokens.Size(1)} tokens are longer than the text tower's context ({ContextLength}); expected at most {ContextLength} — raise context_length or shorten the captions", nameof(tokens));
    }

    /// <summary>[L, L] bool, true above the diagonal (a token may not attend to later ones).</summary>
    private Tensor CausalMask(int length)
    {
        if (_causalMask is not null && _causalMask.Size(0) == length) return _causalMask;
        var data = new bool[length * length];
        for (int i = 0; i < length; i++)
            for (int j = i + 1; j < length; j++) data[i * length + j] = true;
        // The cache outlives the caller's TensorScope (a training step): it must not belong to that scope,
        // or the next step would attend through a disposed mask.
        using (TensorScope.Unscoped()) _causalMask = Tensor.FromArray(data, length, length);
        return _causalMask;
    }
}
