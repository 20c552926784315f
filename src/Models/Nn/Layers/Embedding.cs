using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>
/// torch.nn.Embedding: a lookup table weight [numEmbeddings, embeddingDim] initialised N(0, 1);
/// the row <see cref="PaddingIdx"/> starts at zero and gets no gradient.
/// </summary>
public sealed class Embedding : Layer
{
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIdx = null, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numEmbeddings, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingDim, 1);
        if (paddingIdx is { } p && (p >= numEmbeddings || p < -numEmbeddings))
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), p, $"Embedding: paddingIdx must be within [-{numEmbeddings}, {numEmbeddings})");
        PaddingIdx = paddingIdx is { } q && q < 0 ? q + numEmbeddings : paddingIdx;
        var weight = Init.Normal([numEmbeddings, embeddingDim], 1f, generator ?? Generator.Default);
        if (PaddingIdx is { } row)
            weight.AsSpan<float>().Slice(row * embeddingDim, embeddingDim).Clear();
        Weight = RegisterParameter("weight", weight);
    }

    public Tensor Weight { get; }

    public int? PaddingIdx { get; }

    /// <summary>indices (int64/int32, any shape) → [*indices.shape, embeddingDim].</summary>
    public override Tensor Forward(Tensor input) => Functional.Embedding(input, Weight, PaddingIdx);
}
