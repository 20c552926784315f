using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>
/// Pre-norm transformer encoder block (ViT): x + DropPath(MHA(norm1(x))), then
/// x + DropPath(MLP(norm2(x))). Tokens [B, N, D].
/// </summary>
public sealed class VitBlock : Layer
{
    public VitBlock(int dim, int numHeads, float mlpRatio = 4f, float dropout = 0f, float attentionDropout = 0f, float dropPath = 0f, Generator? generator = null)
    {
        Norm1 = RegisterModule("norm1", new LayerNorm(dim, 1e-6f));
        Attn = RegisterModule("attn", new MultiheadAttention(dim, numHeads, attentionDropout, generator: generator));
        DropPath = RegisterModule("drop_path", new DropPath(dropPath, generator));
        Norm2 = RegisterModule("norm2", new LayerNorm(dim, 1e-6f));
        Mlp = RegisterModule("mlp", new Mlp(dim, (int)(dim * mlpRatio), dim, dropout, generator));
    }

    public LayerNorm Norm1 { get; }
    public MultiheadAttention Attn { get; }
    public DropPath DropPath { get; }
    public LayerNorm Norm2 { get; }
    public Mlp Mlp { get; }

    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>
    /// Tokens [B, N, D] with an optional key padding mask [B, N] (true = ignore) and attention
    /// mask [N, N] (true = not allowed; a causal text tower passes the upper triangle).
    /// </summary>
    public Tensor Forward(Tensor input, Tensor? keyPaddingMask, Tensor? attnMask = null)
    {
        var x = input + DropPath.Forward(Attn.SelfAttention(Norm1.Forward(input), keyPaddingMask, attnMask));
        return x + DropPath.Forward(Mlp.Forward(Norm2.Forward(x)));
    }
}
