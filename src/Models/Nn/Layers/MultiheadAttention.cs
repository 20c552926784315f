using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>
/// torch.nn.MultiheadAttention with batch_first = true and kdim = vdim = embedDim: a packed
/// in_proj_weight [3E, E] (Xavier uniform) and in_proj_bias [3E] (zeros), and out_proj (a Linear
/// with a zero bias), named as PyTorch's state dict. Attention itself is
/// <see cref="Functional.ScaledDotProductAttention"/>; with dropout in training the probabilities
/// are formed explicitly so they can be dropped.
/// </summary>
public sealed class MultiheadAttention : Module
{
    private readonly Generator? _generator;

    public MultiheadAttention(int embedDim, int numHeads, float dropout = 0f, bool bias = true, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(embedDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numHeads, 1);
        if (embedDim % numHeads != 0)
            throw new ArgumentException($"MultiheadAttention: embedDim ({embedDim}) must be divisible by numHeads ({numHeads})", nameof(numHeads));
        if (!(dropout >= 0f && dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "MultiheadAttention: expected a dropout probability in [0, 1)");
        generator ??= Generator.Default;
        _generator = generator;
        EmbedDim = embedDim;
        NumHeads = numHeads;
        DropoutP = dropout;
        // Registration order follows PyTorch: in_proj_weight, in_proj_bias, then out_proj.
        InProjWeight = RegisterParameter("in_proj_weight", Init.XavierUniform([3 * embedDim, embedDim], embedDim, 3 * embedDim, generator));
        InProjBias = bias ? RegisterParameter("in_proj_bias", InitRules.Constant([3 * embedDim], 0f)) : null;
        OutProj = RegisterModule("out_proj", new Linear(embedDim, embedDim, bias, generator));
        if (OutProj.Bias is not null)
            InitRules.Assign(OutProj.Bias, InitRules.Constant([embedDim], 0f));
    }

    public int EmbedDim { get; }

    public int NumHeads { get; }

    public int HeadDim => EmbedDim / NumHeads;

    public float DropoutP { get; }

    public Tensor InProjWeight { get; }

    public Tensor? InProjBias { get; }

    public Linear OutProj { get; }

    /// <summary>Self-attention without masks: query = key = value = <paramref name="x"/>.</summary>
    public Tensor Forward(Tensor x) => Forward(x, x, x);

    /// <summary>
    /// Self-attention with masks (a separate name, so a call with three tensors can only mean
    /// query, key and value).
    /// </summary>
    public Tensor SelfAttention(Tensor x, Tensor? keyPaddingMask = null, Tensor? attnMask = null) => Forward(x, x, x, keyPaddingMask, attnMask);

    /// <summary>
    /// query [B, L, E], key and value [B, S, E] → [B, L, E]. <paramref name="keyPaddingMask"/>
    /// [B, S]: bool true = ignore that key (or float, added). <paramref name="attnMask"/> [L, S] or
    /// [B·heads, L, S]: bool true = not allowed (PyTorch's convention, the opposite of SDPA's), or
    /// float added to the scores. A query whose keys are all masked gets zeros (PyTorch gives NaN).
    /// </summary>
    public Tensor Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null, Tensor? attnMask = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (query.Rank != 3 || query.Size(2) != EmbedDim)
            throw new TensorShapeException($"MultiheadAttention: 'query' expected [batch, length, {EmbedDim}] (batch_first), found {Shapes.Format(query.Shape)}", nameof(query));
        if (key.Rank != 3 || value.Rank != 3 || key.Size(0) != query.Size(0) || value.Size(0) != query.Size(0)
            || key.Size(2) != EmbedDim || value.Size(2) != EmbedDim || key.Size(1) != value.Size(1))
            throw new TensorShapeException($"MultiheadAttention: 'key' and 'value' expected [{query.Size(0)}, S, {EmbedDim}] with one S, found key {Shapes.Format(key.Shape)} and value {Shapes.Format(value.Shape)}", nameof(key));
        int batchSize = query.Size(0), queryLength = query.Size(1), keyLength = key.Size(1);

        var mask = CombineMasks(keyPaddingMask, attnMask, batchSize, queryLength, keyLength);
        bool selfAttention = ReferenceEquals(query, key) && ReferenceEquals(key, value);
        if (selfAttention && !(Training && DropoutP > 0f))
        {
            // One packed projection read in place by the attention kernel: no q/k/v slices, no head
            // split or merge copies, and the backward writes the packed gradient directly.
            var packed = Functional.Linear(query, InProjWeight, InProjBias);
            return OutProj.Forward(Functional.PackedSelfAttention(packed, NumHeads, mask));
        }
        Tensor q, k, v;
        if (selfAttention)
        {
            var qkv = Functional.Linear(query, InProjWeight, InProjBias).Chunk(3, -1);
            (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        }
        else
        {
            var weights = InProjWeight.Chunk(3, 0);
            var biases = InProjBias?.Chunk(3, 0);
            q = Functional.Linear(query, weights[0], biases?[0]);
            k = Functional.Linear(key, weights[1], biases?[1]);
            v = Functional.Linear(value, weights[2], biases?[2]);
        }
        q = SplitHeads(q, batchSize, queryLength);
        k = SplitHeads(k, batchSize, keyLength);
        v = SplitHeads(v, batchSize, keyLength);
        Tensor attended;
        if (Training && DropoutP > 0f)
        {
            var scores = q.Matmul(k.Transpose(-2, -1)) * (1f / MathF.Sqrt(HeadDim));
            if (mask is not null) scores = scores + mask;
            var probabilities = Functional.Dropout(Functional.Softmax(scores, -1), DropoutP, true, _generator);
            attended = probabilities.Matmul(v);
        }
        else
        {
            attended = Functional.ScaledDotProductAttention(q, k, v, mask);
        }
        // [B, heads, L, headDim] -> [B, L, E]
        var merged = attended.Permute(0, 2, 1, 3).Reshape(batchSize, queryLength, EmbedDim);
        return OutProj.Forward(merged);
    }

    private Tensor SplitHeads(Tensor x, int batchSize, int length) =>
        x.Reshape(batchSize, length, NumHeads, HeadDim).Permute(0, 2, 1, 3);

    /// <summary>Both masks as one additive float mask broadcastable to [B, heads, L, S] (or null).</summary>
    private Tensor? CombineMasks(Tensor? keyPaddingMask, Tensor? attnMask, int batchSize, int queryLength, int keyLength)
    {
        Tensor? combined = null;
        if (attnMask is not null)
        {
            Tensor additive = Additive(attnMask, "attnMask");
            if (attnMask.Rank == 2 && attnMask.Size(0) == queryLength && attnMask.Size(1) == keyLength)
                combined = additive;
            else if (attnMask.Rank == 3 && attnMask.Size(0) == batchSize * NumHeads && attnMask.Size(1) == queryLength && attnMask.Size(2) == keyLength)
                combined = additive.Reshape(batchSize, NumHeads, queryLength, keyLength);
            else
                throw new TensorShapeException($"MultiheadAttention: 'attnMask' expected [{queryLength}, {keyLength}] or [{batchSize * NumHeads}, {queryLength}, {keyLength}], found {Shapes.Format(attnMask.Shape)}", nameof(attnMask));
        }
        if (keyPaddingMask is not null)
        {
            if (keyPaddingMask.Rank != 2 || keyPaddingMask.Size(0) != batchSize || keyPaddingMask.Size(1) != keyLength)
                throw new TensorShapeException($"MultiheadAttention: 'keyPaddingMask' expected [{batchSize}, {keyLength}], found {Shapes.Format(keyPaddingMask.Shape)}", nameof(keyPaddingMask));
            var padding = Additive(keyPaddingMask, "keyPaddingMask").Reshape(batchSize, 1, 1, keyLength);
            combined = combined is null ? padding : combined + padding;
        }
        return combined;
    }

    private static Tensor Additive(Tensor mask, string name)
    {
        if (mask.DType == DType.Bool)
            return Functional.Where(mask, Tensor.Scalar(float.NegativeInfinity), Tensor.Scalar(0f));
        if (mask.DType == DType.Float32)
            return mask;
        throw new TensorDTypeException($"MultiheadAttention: '{name}' expected bool (true = masked) or float32 (additive), found {mask.DType.Name()}", name);
    }
}
