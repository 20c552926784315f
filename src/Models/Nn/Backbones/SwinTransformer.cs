using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn.Backbones;

/// <summary>Swin's patch embedding: a p×p stride-p conv ("proj") then LayerNorm ("norm"); [B, C, H, W] → [B, H/p, W/p, D].</summary>
public sealed class SwinPatchEmbed : Layer
{
    public SwinPatchEmbed(int inChannels, int embedDim, int patchSize, Generator? generator = null)
    {
        PatchSize = patchSize;
        Proj = RegisterModule("proj", new Conv2d(inChannels, embedDim, patchSize, stride: patchSize, generator: generator));
        Norm = RegisterModule("norm", new LayerNorm(embedDim));
    }

    public int PatchSize { get; }
    public Conv2d Proj { get; }
    public LayerNorm Norm { get; }

    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Size(2) % PatchSize != 0 || input.Size(3) % PatchSize != 0)
            throw new TensorShapeException($"SwinPatchEmbed: expected [B, C, H, W] with H and W multiples of {PatchSize}, found {Shapes.Format(input.Shape)}", nameof(input));
        return Norm.Forward(Proj.Forward(input).Permute(0, 2, 3, 1));
    }
}

/// <summary>One Swin stage: "blocks" alternating W-MSA and SW-MSA, then an optional "downsample" (patch merging).</summary>
public sealed class SwinStage : Module
{
    public SwinStage(int dim, int depth, int numHeads, int windowSize, float mlpRatio, float dropout, IReadOnlyList<float> dropPaths, bool downsample, Generator? generator)
    {
        Blocks = RegisterModule("blocks", new ModuleList<SwinBlock>(Enumerable.Range(0, depth)
            .Select(i => new SwinBlock(dim, numHeads, windowSize, i % 2 == 0 ? 0 : windowSize / 2, mlpRatio, dropout, dropPaths[i], generator))));
        if (downsample)
            Downsample = RegisterModule("downsample", new PatchMerging(dim, generator));
    }

    public ModuleList<SwinBlock> Blocks { get; }
    public PatchMerging? Downsample { get; }

    /// <summary>[B, H, W, C] through the blocks (before any downsampling).</summary>
    public Tensor ForwardBlocks(Tensor x)
    {
        foreach (var block in Blocks) x = block.Forward(x);
        return x;
    }
}

/// <summary>
/// A small Swin Transformer (names of the reference implementation): patch_embed, layers.i
/// (<see cref="SwinStage"/>: blocks with shifted windows every second block, patch merging
/// between stages), norm and head. Features: each stage's output before patch merging, channels
/// first, at strides p, 2p, 4p, 8p (4/8/16/32 for p = 4), each normalised (norm0.. for the inner
/// stages as Swin for detection; the last uses "norm", shared with classification).
/// </summary>
public sealed class SwinTransformer : Layer, IFeatureBackbone
{
    [Unregistered] // the stages in order; registered (and owned) through Layers
    private readonly List<SwinStage> _stages = new();
    private readonly List<LayerNorm> _featureNorms = new();

    public SwinTransformer(int patchSize = 4, int inChannels = 3, int embedDim = 32, IReadOnlyList<int>? depths = null, IReadOnlyList<int>? numHeads = null,
        int windowSize = 4, float mlpRatio = 4f, int numClasses = 10, float dropout = 0f, float dropPathRate = 0f, Generator? generator = null)
    {
        depths ??= [2, 2, 2, 2];
        numHeads ??= Enumerable.Range(0, depths.Count).Select(i => 1 << i).ToArray();
        if (depths.Count == 0 || depths.Count != numHeads.Count || depths.Any(d => d < 1))
            throw new ArgumentException($"SwinTransformer: expected one positive depth and head count per stage, found depths [{string.Join(", ", depths)}] and heads [{string.Join(", ", numHeads)}]", nameof(depths));
        generator ??= Generator.Default;
        PatchEmbed = RegisterModule("patch_embed", new SwinPatchEmbed(inChannels, embedDim, patchSize, generator));
        int totalBlocks = depths.Sum();
        var dropPaths = Enumerable.Range(0, totalBlocks).Select(i => totalBlocks == 1 ? 0f : dropPathRate * i / (totalBlocks - 1)).ToArray();
        var layers = new ModuleList<SwinStage>();
        var channels = new List<int>();
        var strides = new List<int>();
        int dim = embedDim, first = 0;
        for (int s = 0; s < depths.Count; s++)
        {
            bool last = s == depths.Count - 1;
            var stage = new SwinStage(dim, depths[s], numHeads[s], windowSize, mlpRatio, dropout, dropPaths[first..(first + depths[s])], !last, generator);
            layers.Add(stage);
            _stages.Add(stage);
            channels.Add(dim);
            strides.Add(patchSize << s);
            first += depths[s];
            if (!last) dim *= 2;
        }
        Layers = RegisterModule("layers", layers);
        for (int s = 0; s < depths.Count - 1; s++)
            _featureNorms.Add(RegisterModule($"norm{s}", new LayerNorm(channels[s])));
        Norm = RegisterModule("norm", new LayerNorm(dim));
        _featureNorms.Add(Norm);
        if (numClasses > 0)
            Head = RegisterModule("head", new Linear(dim, numClasses, generator: generator));
        OutChannels = dim;
        FeatureChannels = channels;
        FeatureStrides = strides;
    }

    public SwinPatchEmbed PatchEmbed { get; }
    public ModuleList<SwinStage> Layers { get; }
    public LayerNorm Norm { get; }
    public Linear? Head { get; }
    public int OutChannels { get; }

    public IReadOnlyList<int> FeatureChannels { get; }

    public IReadOnlyList<int> FeatureStrides { get; }

    public IReadOnlyList<Tensor> ForwardFeatures(Tensor images)
    {
        var x = PatchEmbed.Forward(images);
        var features = new List<Tensor>(_stages.Count);
        for (int s = 0; s < _stages.Count; s++)
        {
            var y = _stages[s].ForwardBlocks(x);
            features.Add(_featureNorms[s].Forward(y).Permute(0, 3, 1, 2));
            if (_stages[s].Downsample is { } merge) x = merge.Forward(y);
        }
        return features;
    }

    /// <summary>Logits [B, numClasses] from the mean of the last stage's normalised tokens (or that mean without a head).</summary>
    public override Tensor Forward(Tensor input)
    {
        var pooled = ForwardFeatures(input)[^1].Mean([2, 3]);
        return Head?.Forward(pooled) ?? pooled;
    }
}
