using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>
/// One post-norm Transformer decoder layer, PyTorch's nn.TransformerDecoderLayer with
/// batch_first, ReLU and no dropout (what Query2Label stacks): x = norm1(x + self_attn(x)),
/// x = norm2(x + multihead_attn(x, memory)), x = norm3(x + linear2(relu(linear1(x)))).
/// Parameter names follow PyTorch's state dict.
/// </summary>
public sealed class LabelDecoderLayer : Module
{
    public LabelDecoderLayer(int dim, int heads, int feedForward, Generator generator)
    {
        SelfAttn = RegisterModule("self_attn", new MultiheadAttention(dim, heads, generator: generator));
        MultiheadAttn = RegisterModule("multihead_attn", new MultiheadAttention(dim, heads, generator: generator));
        Linear1 = RegisterModule("linear1", new Linear(dim, feedForward, generator: generator));
        Linear2 = RegisterModule("linear2", new Linear(feedForward, dim, generator: generator));
        Norm1 = RegisterModule("norm1", new LayerNorm(dim));
        Norm2 = RegisterModule("norm2", new LayerNorm(dim));
        Norm3 = RegisterModule("norm3", new LayerNorm(dim));
    }

    public MultiheadAttention SelfAttn { get; }
    public MultiheadAttention MultiheadAttn { get; }
    public Linear Linear1 { get; }
    public Linear Linear2 { get; }
    public LayerNorm Norm1 { get; }
    public LayerNorm Norm2 { get; }
    public LayerNorm Norm3 { get; }

    /// <summary>Queries [B, C, d] attend to themselves, then to <paramref name="memory"/> [B, S, d].</summary>
    public Tensor Forward(Tensor queries, Tensor memory)
    {
        var x = Norm1.Forward(queries + SelfAttn.Forward(queries));
        x = Norm2.Forward(x + MultiheadAttn.Forward(x, memory, memory));
        return Norm3.Forward(x + Linear2.Forward(Functional.Relu(Linear1.Forward(x))));
    }
}

/// <summary>What the multi-label head gives: per-class logits [B, C] and the decoder's class states [B, C, d].</summary>
public sealed record LabelOutput(Tensor Logits, Tensor States);

/// <summary>
/// Query2Label (Liu et al. 2021) as HVP-MTL uses it: a linear projection of the backbone's
/// last-stage map from d0 to d ("input_proj"), label embeddings Q0 [C, d] ("query_embed") as the
/// decoder's queries cross-attending to the projected map, and a group-wise linear layer
/// ("fc_weight" [C, d], "fc_bias" [C]) giving logit_c = w_c · h_c + b_c. Our choices where the
/// papers leave it open: no positional encoding is added to the memory (the ViT's tokens already
/// carry position embeddings), no final decoder norm, decoder width and depth from the settings.
/// </summary>
public sealed class Query2LabelHead : Module
{
    private readonly List<LabelDecoderLayer> _layers;

    public Query2LabelHead(int inChannels, int classCount, int dim, int layers, int heads, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ClassCount = classCount;
        Dim = dim;
        InputProj = RegisterModule("input_proj", new Linear(inChannels, dim, generator: generator));
        QueryEmbed = RegisterParameter("query_embed", InitRules.TruncatedNormal([classCount, dim], 1f, generator));
        _layers = Enumerable.Range(0, layers).Select(_ => new LabelDecoderLayer(dim, heads, 2 * dim, generator)).ToList();
        RegisterModule("layers", new ModuleList<LabelDecoderLayer>(_layers));
        float bound = 1f / MathF.Sqrt(dim);
        FcWeight = RegisterParameter("fc_weight", Init.Uniform([classCount, dim], -bound, bound, generator));
        FcBias = RegisterParameter("fc_bias", Init.Uniform([classCount], -bound, bound, generator));
    }

    public int ClassCount { get; }
    public int Dim { get; }
    public Linear InputProj { get; }

    /// <summary>Q0 [C, d]: the label embeddings (queries; momentum distillation compares embeddings with them).</summary>
    public Tensor QueryEmbed { get; }
    public Tensor FcWeight { get; }
    public Tensor FcBias { get; }
    public IReadOnlyList<LabelDecoderLayer> Layers => _layers;

    /// <summary><paramref name="tokens"/> [B, N, d0] (the last-stage map as tokens) → logits and class states.</summary>
    public LabelOutput Forward(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Rank != 3)
            throw new TensorShapeException($"query2label: 'tokens' expected [batch, positions, channels], found {Shapes.Format(tokens.Shape)}", nameof(tokens));
        var memory = InputProj.Forward(tokens);
        int batchSize = tokens.Size(0);
        var x = QueryEmbed.Unsqueeze(0).Expand(batchSize, ClassCount, Dim);
        foreach (var layer in _layers) x = layer.Forward(x, memory);
        var logits = Functional.Sum(x * FcWeight.Unsqueeze(0), 2) + FcBias.Unsqueeze(0);
        return new LabelOutput(logits, x);
    }
}
