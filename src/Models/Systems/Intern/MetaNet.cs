using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>The block family of a MetaNet stage (INTERN's "GOP" choices).</summary>
public enum GopKind
{
    /// <summary>Inverted bottleneck: 1x1 expand by e, 3x3 depthwise (or regular) conv, 1x1 project, residual.</summary>
    Conv,

    /// <summary>Pre-norm self-attention + FFN over the stage's pixels as tokens (global or local windows), residual.</summary>
    Transformer,
}

/// <summary>One MetaNet stage: block family, width, block count and attention window (0 = global attention).</summary>
public sealed record MetaNetStage(GopKind Kind, int Channels, int Blocks = 1, int Window = 0);

/// <summary>
/// MetaNet-lite's shape. Choices the paper leaves open at our scale (named here): the stem is one
/// 3x3 conv-BN-ReLU at stride 1 and every stage starts with a 3x3 stride-2 conv-BN-ReLU, so at
/// 32 px C2..C5 have strides 2, 4, 8, 16 (the paper's 4..32 would leave C5 a single pixel);
/// transformer stages see the conv downsampling as their only position signal (no position
/// embedding); attention heads have 8 channels each. <see cref="AtrousLast"/> (DeepLab-lite,
/// the segmentation expert) keeps the last stage at the previous stride with a dilation-2 3x3
/// entry conv and dilation 2 in its depthwise convs.
/// </summary>
public sealed record MetaNetOptions
{
    public int StemChannels { get; init; } = 8;

    /// <summary>C2..C5, finest first. Default: conv, conv, local-window transformer (2x2), global transformer.</summary>
    public IReadOnlyList<MetaNetStage> Stages { get; init; } =
    [
        new(GopKind.Conv, 8), new(GopKind.Conv, 16), new(GopKind.Transformer, 24, 1, 2), new(GopKind.Transformer, 32),
    ];

    /// <summary>Expansion factor e of the conv GOP's inverted bottleneck.</summary>
    public int Expansion { get; init; } = 2;

    /// <summary>Depthwise (true, MBConv) or regular 3x3 conv in the conv GOP.</summary>
    public bool Depthwise { get; init; } = true;

    /// <summary>Last stage without downsampling, dilated (segmentation expert).</summary>
    public bool AtrousLast { get; init; }

    public void Validate(string field)
    {
        if (StemChannels < 1) throw new ArgumentOutOfRangeException(field, StemChannels, $"intern: '{field}.stem_channels' expected at least 1, found {StemChannels}");
        if (Stages.Count < 1) throw new ArgumentException($"intern: '{field}.stages' expected at least one stage, found none", field);
        for (int i = 0; i < Stages.Count; i++)
        {
            var s = Stages[i];
            if (s.Channels < 1 || s.Blocks < 1 || s.Window < 0)
                throw new ArgumentOutOfRangeException(field, $"intern: '{field}.stages[{i}]' expected channels >= 1, blocks >= 1, window >= 0; found {s}");
            if (s.Kind == GopKind.Transformer && s.Channels % 8 != 0)
                throw new ArgumentException($"intern: '{field}.stages[{i}]' is a transformer stage: channels expected a multiple of 8 (8-channel heads), found {s.Channels}", field);
        }
        if (Expansion < 1) throw new ArgumentOutOfRangeException(field, Expansion, $"intern: '{field}.expansion' expected at least 1, found {Expansion}");
    }
}

/// <summary>
/// MetaNet-lite (INTERN's backbone family at reduced scale): a stem and one stage per entry of
/// <see cref="MetaNetOptions.Stages"/>, each a conv GOP stack or a transformer GOP stack, exposing
/// every stage output (C2..C5). <see cref="Stem"/> and <see cref="Stage"/> run it piece by piece,
/// which Up-G's knowledge-transfer modules need (they add into a stage's output before the next).
/// State dict: "stem.*", "stages.{i}.down.*", "stages.{i}.blocks.{j}.*".
/// </summary>
public sealed class MetaNet : Module, IFeatureBackbone
{
    private readonly Sequential _stem;
    private readonly ModuleList<MetaNetStageLayer> _stages;

    public MetaNet(MetaNetOptions options, Generator generator, int inChannels = 3)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(generator);
        options.Validate("backbone");
        Options = options;
        _stem = RegisterModule("stem", ConvBnRelu(inChannels, options.StemChannels, 3, 1, 1, generator));
        _stages = RegisterModule("stages", new ModuleList<MetaNetStageLayer>());
        int channels = options.StemChannels, stride = 1;
        var strides = new List<int>();
        for (int i = 0; i < options.Stages.Count; i++)
        {
            bool atrous = options.AtrousLast && i == options.Stages.Count - 1 && i > 0;
            _stages.Add(new MetaNetStageLayer(channels, options.Stages[i], options, atrous, generator));
            channels = options.Stages[i].Channels;
            if (!atrous) stride *= 2;
            strides.Add(stride);
        }
        FeatureChannels = options.Stages.Select(s => s.Channels).ToArray();
        FeatureStrides = strides;
    }

    public MetaNetOptions Options { get; }

    public IReadOnlyList<int> FeatureChannels { get; }

    public IReadOnlyList<int> FeatureStrides { get; }

    public int StageCount => _stages.Count;

    public Tensor Stem(Tensor images) => _stem.Forward(images);

    /// <summary>Stage <paramref name="index"/> (0-based: C2 is 0) applied to the previous stage's (fused) output.</summary>
    public Tensor Stage(int index, Tensor input) => _stages[index].Forward(input);

    public IReadOnlyList<Tensor> ForwardFeatures(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var maps = new Tensor[_stages.Count];
        var x = Stem(images);
        for (int i = 0; i < maps.Length; i++) x = maps[i] = Stage(i, x);
        return maps;
    }

    internal static Sequential ConvBnRelu(int inChannels, int outChannels, int kernel, int stride, int padding, Generator generator, int dilation = 1, int groups = 1) =>
        new(new Conv2d(inChannels, outChannels, kernel, stride, padding, dilation, groups, bias: false, generator: generator), new BatchNorm2d(outChannels), Lambda.Relu());
}

/// <summary>A MetaNet stage: the entry conv ("down": 3x3 stride 2, or stride 1 dilated when atrous) then its GOP blocks.</summary>
public sealed class MetaNetStageLayer : Layer
{
    private readonly Sequential _down;
    private readonly ModuleList<Layer> _blocks;

    public MetaNetStageLayer(int inChannels, MetaNetStage stage, MetaNetOptions options, bool atrous, Generator generator)
    {
        _down = RegisterModule("down", atrous
            ? MetaNet.ConvBnRelu(inChannels, stage.Channels, 3, 1, 2, generator, dilation: 2)
            : MetaNet.ConvBnRelu(inChannels, stage.Channels, 3, 2, 1, generator));
        _blocks = RegisterModule("blocks", new ModuleList<Layer>());
        for (int b = 0; b < stage.Blocks; b++)
            _blocks.Add(stage.Kind == GopKind.Conv
                ? new ConvGop(stage.Channels, options.Expansion, options.Depthwise, atrous ? 2 : 1, generator)
                : new TransformerGop(stage.Channels, stage.Window, generator));
    }

    public override Tensor Forward(Tensor input)
    {
        var x = _down.Forward(input);
        foreach (var block in _blocks) x = block.Forward(x);
        return x;
    }
}

/// <summary>Conv GOP: x + BN(1x1(ReLU(BN(3x3 dw(ReLU(BN(1x1 expand x))))))); the projection has no activation (MobileNetV2's linear bottleneck).</summary>
public sealed class ConvGop : Layer
{
    private readonly Sequential _expand, _spatial, _project;

    public ConvGop(int channels, int expansion, bool depthwise, int dilation, Generator generator)
    {
        int hidden = channels * expansion;
        _expand = RegisterModule("expand", MetaNet.ConvBnRelu(channels, hidden, 1, 1, 0, generator));
        _spatial = RegisterModule("spatial", MetaNet.ConvBnRelu(hidden, hidden, 3, 1, dilation, generator, dilation, depthwise ? hidden : 1));
        _project = RegisterModule("project", new Sequential(new Conv2d(hidden, channels, 1, bias: false, generator: generator), new BatchNorm2d(channels)));
    }

    public override Tensor Forward(Tensor input) => input + _project.Forward(_spatial.Forward(_expand.Forward(input)));
}

/// <summary>
/// Transformer GOP: a pre-norm ViT block (attention + FFN of ratio 4, residual) over the map's pixels
/// as tokens; with a window w > 0 (and a map divisible by it) attention runs inside w x w windows
/// (Swin's partition without the shift), otherwise over the whole map.
/// </summary>
public sealed class TransformerGop : Layer
{
    private readonly VitBlock _block;

    public TransformerGop(int channels, int window, Generator generator)
    {
        Window = window;
        _block = RegisterModule("block", new VitBlock(channels, channels / 8, generator: generator));
    }

    public int Window { get; }

    public override Tensor Forward(Tensor input)
    {
        int batch = input.Size(0), channels = input.Size(1), height = input.Size(2), width = input.Size(3);
        var tokens = input.Permute(0, 2, 3, 1).Contiguous();   // [B, H, W, C]
        int w = Window;
        if (w <= 0 || height % w != 0 || width % w != 0 || (w == height && w == width))
        {
            var flat = _block.Forward(tokens.Reshape(batch, height * width, channels));
            return flat.Reshape(batch, height, width, channels).Permute(0, 3, 1, 2).Contiguous();
        }
        int rows = height / w, cols = width / w;
        var windows = tokens.Reshape(batch, rows, w, cols, w, channels).Permute(0, 1, 3, 2, 4, 5).Contiguous().Reshape(batch * rows * cols, w * w, channels);
        var mixed = _block.Forward(windows);
        return mixed.Reshape(batch, rows, cols, w, w, channels).Permute(0, 5, 1, 3, 2, 4).Contiguous().Reshape(batch, channels, height, width);
    }
}
