using System.Text.Json;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Serialization;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Nn.Text;
using Tessera.Models.Objectives;

namespace Tessera.Models.Systems.Eva;

/// <summary>
/// A small CLIP (Radford et al.): image tower "image" (a <see cref="VisionTransformer"/> without a
/// head, mean-pooled) and "image_projection"; text tower "text" (a causal
/// <see cref="TextTransformer"/> pooled at the End token) and "text_projection"; "logit_scale" (a
/// <see cref="LearnableLogitScale"/>, exp clamped at 100). Loss = symmetric InfoNCE over the
/// L2-normalised embeddings of a batch of image-caption pairs.
/// </summary>
public sealed class ClipModel : Module
{
    public ClipModel(ClipConfig config, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        Image = RegisterModule("image", new VisionTransformer(config.ImageSize, config.PatchSize, 3, config.ImageWidth, config.ImageDepth, config.ImageHeads,
            numClasses: 0, pooling: VitPooling.Mean, generator: generator));
        ImageProjection = RegisterModule("image_projection", new Linear(config.ImageWidth, config.EmbedDim, bias: false, generator));
        Text = RegisterModule("text", new TextTransformer(CaptionVocabulary.Count, config.ContextLength, config.TextWidth, config.TextDepth, config.TextHeads, causal: true, generator: generator));
        TextProjection = RegisterModule("text_projection", new Linear(config.TextWidth, config.EmbedDim, bias: false, generator));
        LogitScale = RegisterModule("logit_scale", new LearnableLogitScale());
    }

    public ClipConfig Config { get; }
    public VisionTransformer Image { get; }
    public Linear ImageProjection { get; }
    public TextTransformer Text { get; }
    public Linear TextProjection { get; }
    public LearnableLogitScale LogitScale { get; }

    /// <summary>L2-normalised image embeddings [B, EmbedDim].</summary>
    public Tensor EncodeImage(Tensor images) => Functional.Normalize(ImageProjection.Forward(Image.ForwardPooled(images)), dim: -1);

    /// <summary>L2-normalised text embeddings [B, EmbedDim] of caption tokens [B, L].</summary>
    public Tensor EncodeText(Tensor tokens) => Functional.Normalize(TextProjection.Forward(Text.Forward(tokens)), dim: -1);

    /// <summary>The contrastive loss of a batch of pairs (scalar).</summary>
    public Tensor Loss(Tensor images, Tensor tokens) => ContrastiveLoss.InfoNce(EncodeImage(images), EncodeText(tokens), LogitScale.Scale());

    /// <summary>The image tower's patch features [B, N, ImageWidth] (final LayerNorm'd patch tokens): EVA's regression targets.</summary>
    public Tensor PatchFeatures(Tensor images) => Image.ForwardTokens(images);

    /// <summary>Stops every gradient into this model (the frozen teacher): parameters no longer require grad.</summary>
    public void Freeze()
    {
        foreach (var parameter in Parameters()) parameter.RequiresGrad = false;
        Eval();
    }

    /// <summary>Metadata key holding the config in a checkpoint.</summary>
    public const string ConfigKey = "eva_clip_config";

    /// <summary><see cref="Module.Save"/> stores the config as JSON metadata, so <see cref="Load(string, string)"/> can rebuild the model.</summary>
    protected override IReadOnlyDictionary<string, string> SaveMetadata() => new Dictionary<string, string> { [ConfigKey] = JsonSerializer.Serialize(Config) };

    /// <summary>
    /// The config stored in a CLIP checkpoint, without loading its tensors; a clear error naming
    /// <paramref name="field"/> when the path does not exist or is not a CLIP checkpoint.
    /// </summary>
    public static ClipConfig ReadConfig(string? path, string field)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"eva: '{field}' expected the path of a teacher checkpoint (written by `tessera train eva-clip-teacher` as OUT/teacher.safetensors), found none", field);
        if (!File.Exists(path))
            throw new FileNotFoundException($"eva: '{field}' expected an existing teacher checkpoint (written by `tessera train eva-clip-teacher` as OUT/teacher.safetensors), found no file at '{path}'", path);
        var (_, metadata) = SafeTensors.Read(path);
        if (!metadata.TryGetValue(ConfigKey, out var json))
            throw new ArgumentException($"eva: '{field}' expected a CLIP teacher checkpoint with '{ConfigKey}' metadata, found a safetensors file without it at '{path}'", field);
        return JsonSerializer.Deserialize<ClipConfig>(json) ?? throw new ArgumentException($"eva: '{field}': unreadable '{ConfigKey}' metadata in '{path}'", field);
    }

    /// <summary>Rebuilds a CLIP from its checkpoint (strict keys and shapes).</summary>
    public static ClipModel Load(string path, string field = "eva.teacher")
    {
        var config = ReadConfig(path, field);
        var model = new ClipModel(config, new Generator(0));
        var (tensors, _) = SafeTensors.Read(path);
        model.LoadStateDict(tensors.ToDictionary(kv => kv.Key, kv => Tensor.FromEntry(kv.Value), StringComparer.Ordinal));
        return model;
    }
}
