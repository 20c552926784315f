using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>Transformer MLP: fc1 → GELU → Dropout → fc2 (timm's names fc1/fc2).</summary>
public sealed class Mlp : Layer
{
    public Mlp(int inFeatures, int hiddenFeatures, int? outFeatures = null, float dropout = 0f, Generator? generator = null)
    {
        Fc1 = RegisterModule("fc1", new Linear(inFeatures, hiddenFeatures, generator: generator));
        Drop = RegisterModule("drop", new Dropout(dropout, generator));
        Fc2 = RegisterModule("fc2", new Linear(hiddenFeatures, outFeatures ?? inFeatures, generator: generator));
    }

    public Linear Fc1 { get; }

    public Dropout Drop { get; }

    public Linear Fc2 { get; }

    public override Tensor Forward(Tensor input) => Fc2.Forward(Drop.Forward(Functional.Gelu(Fc1.Forward(input))));
}

/// <summary>
/// Patchify by a strided convolution (timm PatchEmbed, "proj"): [B, C, H, W] →
/// [B, D, H/p, W/p]; <see cref="Tokens"/> flattens that to [B, N, D].
/// </summary>
public sealed class PatchEmbed : Layer
{
    public PatchEmbed(int inChannels, int embedDim, int patchSize, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(patchSize, 1);
        PatchSize = patchSize;
        EmbedDim = embedDim;
        Proj = RegisterModule("proj", new Conv2d(inChannels, embedDim, patchSize, stride: patchSize, generator: generator));
    }

    public int PatchSize { get; }

    public int EmbedDim { get; }

    public Conv2d Proj { get; }

    /// <summary>The patch grid [B, D, H/p, W/p]; H and W must be multiples of the patch size.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Size(2) % PatchSize != 0 || input.Size(3) % PatchSize != 0)
            throw new Engine.TensorShapeException($"PatchEmbed: expected [B, C, H, W] with H and W multiples of the patch size {PatchSize}, found {Engine.Shapes.Format(input.Shape)}", nameof(input));
        return Proj.Forward(input);
    }

    /// <summary>[B, N = (H/p)(W/p), D] tokens in row-major patch order.</summary>
    public Tensor Tokens(Tensor input) => Forward(input).Flatten(2).Transpose(1, 2);
}
