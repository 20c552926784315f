using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>
/// What the momentum teacher averages: the backbone (a ViT with mean pooling, no classifier)
/// and the Query2Label decoder (HVP-MTL: "EMA versions of the backbone and the Transformer
/// decoder"). The ViT's patch tokens [B, N, D] are the "last-stage map".
/// </summary>
public sealed class HvpEncoder : Module
{
    public HvpEncoder(HvpMtlSettings settings, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Backbone = RegisterModule("backbone", CreateBackbone(settings, generator));
        Labels = RegisterModule("query2label", new Query2LabelHead(settings.EmbedDim, ShapeSdf.Count, settings.DecoderDim, settings.DecoderLayers, 2, generator));
    }

    public VisionTransformer Backbone { get; }
    public Query2LabelHead Labels { get; }

    /// <summary>The backbone on its own (downstream fine-tuning and the scratch baseline build it the same way).</summary>
    public static VisionTransformer CreateBackbone(HvpMtlSettings settings, Generator generator) =>
        new(settings.ImageSize, settings.PatchSize, 3, settings.EmbedDim, settings.Depth, settings.Heads, numClasses: 0, pooling: VitPooling.Mean, generator: generator);

    /// <summary>
    /// g, the image embedding of momentum distillation: the mean of the decoder's class states
    /// [B, d] (our choice of "the embedding vector learned from the Transformer decoder"; it
    /// depends on the backbone, the projection and the decoder, all of which the teacher averages).
    /// </summary>
    public static Tensor Embedding(LabelOutput output) => Functional.Mean(output.States, 1);
}

/// <summary>
/// The student of HVP-MTL: the encoder (backbone + Query2Label decoder), the SwAV head and the
/// SimMIM decoder with its mask token. Every head is built even when its loss weight is 0 (an
/// ablation), so all arms start from the same initial backbone for a seed.
/// </summary>
public sealed class HvpMtlModel : Module
{
    public HvpMtlModel(HvpMtlSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        var generator = InitStream(settings.Seed, 0);
        Encoder = RegisterModule("encoder", new HvpEncoder(settings, generator));
        Swav = RegisterModule("swav", new SwavHead(settings.EmbedDim, 2 * settings.EmbedDim, settings.Projection, settings.Prototypes, InitStream(settings.Seed, 1)));
        Mim = RegisterModule("simmim", new SimMimDecoder(settings.EmbedDim, settings.PatchSize, InitStream(settings.Seed, 2)));
    }

    public HvpMtlSettings Settings { get; }
    public HvpEncoder Encoder { get; }
    public SwavHead Swav { get; }
    public SimMimDecoder Mim { get; }

    /// <summary>A second encoder with the same structure (the momentum teacher; its values are overwritten by the student's).</summary>
    public HvpEncoder CreateTeacherEncoder() => new(Settings, InitStream(Settings.Seed, 9));

    /// <summary>An independent random stream per purpose (initialisation, data, masks...).</summary>
    public static Generator InitStream(ulong seed, int purpose) => new(MultiTaskTrainer.Mix(seed, 40 + (ulong)purpose, 0));
}

/// <summary>
/// The HVP-MTL backbone as a recipe-catalog backbone (model type "hvp-mtl"), so a recipe's
/// architecture can also be built by <see cref="Recipes.RecipeCatalog.Build"/>: the ViT's patch
/// tokens as one map [B, D, H/p, W/p]. Pre-training itself runs through <see cref="HvpMtlTraining"/>.
/// </summary>
public sealed class HvpCatalogBackbone(Nn.Backbones.VisionTransformer vit) : IMultiTaskBackbone
{
    public Module Module => vit;

    public Features Forward(string task, Tensor input) => new(vit.ForwardFeatures(input));

    /// <summary>The catalog's builder: model.width and model.depth from the recipe; patch 4 and 4 heads as in recipes/hvp-mtl.json.</summary>
    public static (IMultiTaskBackbone Backbone, int Channels) Create(Recipes.ModelSpec spec, int inChannels, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var settings = new HvpMtlSettings { EmbedDim = spec.Width, Depth = spec.Depth, Heads = spec.Width % 4 == 0 ? 4 : 1 };
        if (inChannels != 3)
            throw new InvalidDataException($"recipe: model type 'hvp-mtl' expects 3-channel images, found {inChannels}");
        return (new HvpCatalogBackbone(HvpEncoder.CreateBackbone(settings, generator)), spec.Width);
    }
}
