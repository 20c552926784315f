using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn.Backbones;

/// <summary>How a <see cref="VisionTransformer"/> summarises its tokens for classification.</summary>
public enum VitPooling
{
    /// <summary>A learned cls token prepended to the patches; its final state is the summary.</summary>
    ClsToken,

    /// <summary>No cls token; the mean of the patch tokens.</summary>
    Mean,
}

/// <summary>
/// A small Vision Transformer (timm names): patch_embed.proj (conv patchify), cls_token [1, 1, D]
/// (ClsToken pooling), learned pos_embed [1, (1 +) N, D] (trunc-normal 0.02), blocks.i
/// (<see cref="VitBlock"/>, stochastic depth rising linearly to <c>dropPathRate</c>), norm and
/// head. Images of another size than <c>imageSize</c> get the position grid resized bilinearly.
/// Exposes its tokens (<see cref="ForwardTokens(Tensor)"/>) and the patch tokens as a map at stride =
/// patch size (<see cref="ForwardFeatures"/>).
/// </summary>
public sealed class VisionTransformer : Layer, IFeatureBackbone
{
    private readonly List<VitBlock> _blocks;

    public VisionTransformer(int imageSize = 32, int patchSize = 4, int inChannels = 3, int embedDim = 64, int depth = 4, int numHeads = 4,
        float mlpRatio = 4f, int numClasses = 10, VitPooling pooling = VitPooling.ClsToken, float dropout = 0f, float dropPathRate = 0f, Generator? generator = null)
    {
        if (imageSize % patchSize != 0)
            throw new ArgumentException($"VisionTransformer: imageSize ({imageSize}) must be a multiple of patchSize ({patchSize})", nameof(imageSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        generator ??= Generator.Default;
        PatchSize = patchSize;
        EmbedDim = embedDim;
        Pooling = pooling;
        GridSize = imageSize / patchSize;
        PatchEmbed = RegisterModule("patch_embed", new PatchEmbed(inChannels, embedDim, patchSize, generator));
        int prefix = pooling == VitPooling.ClsToken ? 1 : 0;
        if (prefix == 1)
            ClsToken = RegisterParameter("cls_token", InitRules.TruncatedNormal([1, 1, embedDim], 0.02f, generator));
        PosEmbed = RegisterParameter("pos_embed", InitRules.TruncatedNormal([1, prefix + GridSize * GridSize, embedDim], 0.02f, generator));
        _blocks = Enumerable.Range(0, depth)
            .Select(i => new VitBlock(embedDim, numHeads, mlpRatio, dropout, 0f, depth == 1 ? 0f : dropPathRate * i / (depth - 1), generator)).ToList();
        Blocks = RegisterModule("blocks", new ModuleList<VitBlock>(_blocks));
        Norm = RegisterModule("norm", new LayerNorm(embedDim, 1e-6f));
        if (numClasses > 0)
            Head = RegisterModule("head", new Linear(embedDim, numClasses, generator: generator));
        FeatureChannels = [embedDim];
        FeatureStrides = [patchSize];
    }

    public int PatchSize { get; }
    public int EmbedDim { get; }
    public VitPooling Pooling { get; }

    /// <summary>Patches per side at the configured image size.</summary>
    public int GridSize { get; }

    public PatchEmbed PatchEmbed { get; }
    public Tensor? ClsToken { get; }
    public Tensor PosEmbed { get; }
    public ModuleList<VitBlock> Blocks { get; }
    public LayerNorm Norm { get; }
    public Linear? Head { get; }

    public IReadOnlyList<int> FeatureChannels { get; }

    public IReadOnlyList<int> FeatureStrides { get; }

    /// <summary>Normalised tokens [B, (1 +) N, D] (cls first when there is one).</summary>
    public Tensor ForwardTokens(Tensor images) => ForwardTokens(images, null, null);

    /// <summary>
    /// Masked-image-modelling forward (BEiT / EVA / SimMIM): the patch embeddings where
    /// <paramref name="mask"/> [B, N] is 1 are replaced by <paramref name="maskToken"/> [1, 1, D]
    /// (x·(1 − m) + token·m, so the token gets the gradient of every masked position) before the
    /// position embeddings are added. Both null: the plain forward.
    /// </summary>
    public Tensor ForwardTokens(Tensor images, Tensor? mask, Tensor? maskToken)
    {
        ArgumentNullException.ThrowIfNull(images);
        if ((mask is null) != (maskToken is null))
            throw new ArgumentException("VisionTransformer: pass both 'mask' and 'maskToken' for a masked forward, or neither", nameof(mask));
        var grid = PatchEmbed.Forward(images); // [B, D, gh, gw]
        int batchSize = grid.Size(0), gridHeight = grid.Size(2), gridWidth = grid.Size(3);
        var patches = grid.Flatten(2).Transpose(1, 2); // [B, N, D]
        if (mask is not null && maskToken is not null)
        {
            if (mask.Rank != 2 || mask.Size(0) != batchSize || mask.Size(1) != gridHeight * gridWidth)
                throw new TensorShapeException($"VisionTransformer: 'mask' expected [{batchSize}, {gridHeight * gridWidth}] (one value per patch), found {Shapes.Format(mask.Shape)}", nameof(mask));
            if (maskToken.Numel != EmbedDim)
                throw new TensorShapeException($"VisionTransformer: 'maskToken' expected [1, 1, {EmbedDim}], found {Shapes.Format(maskToken.Shape)}", nameof(maskToken));
            var weight = mask.Unsqueeze(2); // [B, N, 1]
            patches = patches * (1f - weight) + maskToken.Reshape(1, 1, EmbedDim) * weight;
        }
        var x = patches + PatchPositions(gridHeight, gridWidth);
        if (ClsToken is not null)
        {
            var cls = (ClsToken + PosEmbed.Narrow(1, 0, 1)).Expand(batchSize, 1, EmbedDim);
            x = Functional.Cat([cls, x], 1);
        }
        foreach (var block in _blocks) x = block.Forward(x);
        return Norm.Forward(x);
    }

    /// <summary>The patch tokens as one map [B, D, H / patch, W / patch].</summary>
    public IReadOnlyList<Tensor> ForwardFeatures(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var tokens = ForwardTokens(images);
        int prefix = ClsToken is null ? 0 : 1;
        int gridHeight = images.Size(2) / PatchSize, gridWidth = images.Size(3) / PatchSize;
        var patches = tokens.Narrow(1, prefix, tokens.Size(1) - prefix);
        return [patches.Transpose(1, 2).Reshape(images.Size(0), EmbedDim, gridHeight, gridWidth)];
    }

    /// <summary>The pooled summary [B, D] (cls token or mean of patches).</summary>
    public Tensor ForwardPooled(Tensor images)
    {
        var tokens = ForwardTokens(images);
        return ClsToken is not null ? tokens.Select(1, 0) : tokens.Mean(1);
    }

    /// <summary>Logits [B, numClasses], or the pooled summary without a head.</summary>
    public override Tensor Forward(Tensor input)
    {
        var pooled = ForwardPooled(input);
        return Head?.Forward(pooled) ?? pooled;
    }

    /// <summary>Position embeddings of the patch tokens [1, gh·gw, D], resized when the grid differs.</summary>
    private Tensor PatchPositions(int gridHeight, int gridWidth)
    {
        int prefix = ClsToken is null ? 0 : 1;
        var patches = PosEmbed.Narrow(1, prefix, GridSize * GridSize);
        if (gridHeight == GridSize && gridWidth == GridSize) return patches;
        var map = patches.Transpose(1, 2).Reshape(1, EmbedDim, GridSize, GridSize);
        var resized = Functional.Interpolate(map, (gridHeight, gridWidth), mode: InterpolationMode.Bilinear, alignCorners: false);
        return resized.Flatten(2).Transpose(1, 2);
    }
}
