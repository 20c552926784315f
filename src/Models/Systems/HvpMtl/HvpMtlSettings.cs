using Tessera.Models.Data.World;
using Tessera.Models.Objectives;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>
/// Scale and hyper-parameters of one HVP-MTL pre-training run (paper 002). The paper's values
/// are the defaults where they carry over (loss weights α = 0.001, 0.02, 1.0, 10.0; η = 10,
/// γ+ = 4, γ− = 1; T_max = 10; m = 0.995; AdamW wd 0.05, warm-up + cosine). Scale is ours: a
/// ViT on 32-px images. A loss weight of 0 switches that objective off (the ablations).
/// Error messages name the recipe field (recipes/hvp-mtl.json) of each setting.
/// </summary>
public sealed record HvpMtlSettings
{
    /// <summary>Pre-training source (recipe 'tasks.0.source'); the multi-label loss needs a multi-label source.</summary>
    public string Source { get; init; } = "tags";

    /// <summary>Tag noise of the source (recipe 'hvp.tag_noise'; the tags source draws 0.15).</summary>
    public float TagNoise { get; init; } = 0.15f;

    /// <summary>Image side in pixels (recipe 'size').</summary>
    public int ImageSize { get; init; } = 32;

    /// <summary>ViT patch side (recipe 'hvp.patch_size').</summary>
    public int PatchSize { get; init; } = 4;

    /// <summary>ViT width (recipe 'model.width').</summary>
    public int EmbedDim { get; init; } = 48;

    /// <summary>ViT blocks (recipe 'model.depth').</summary>
    public int Depth { get; init; } = 3;

    /// <summary>ViT attention heads (recipe 'hvp.heads').</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Query2Label decoder width d (recipe 'model.head_width').</summary>
    public int DecoderDim { get; init; } = 32;

    /// <summary>Query2Label decoder layers (recipe 'hvp.decoder_layers').</summary>
    public int DecoderLayers { get; init; } = 1;

    /// <summary>"weighted-asl", "asl" or "bce" (recipe 'hvp.multilabel_loss').</summary>
    public string MultiLabelLoss { get; init; } = "weighted-asl";

    /// <summary>SwAV prototypes K (recipe 'hvp.prototypes').</summary>
    public int Prototypes { get; init; } = 24;

    /// <summary>SwAV projection width (recipe 'hvp.projection').</summary>
    public int Projection { get; init; } = 32;

    /// <summary>SwAV temperature τ (recipe 'hvp.swav_temperature'; SwAV's 0.1).</summary>
    public float SwavTemperature { get; init; } = 0.1f;

    /// <summary>Sinkhorn-Knopp ε (recipe 'hvp.sinkhorn_epsilon'; SwAV's 0.05).</summary>
    public float SinkhornEpsilon { get; init; } = 0.05f;

    /// <summary>Sinkhorn-Knopp iterations (recipe 'hvp.sinkhorn_iterations'; SwAV's 3).</summary>
    public int SinkhornIterations { get; init; } = 3;

    /// <summary>T_max, the clamp of the exponential's input (recipe 'hvp.sinkhorn_clamp'; the paper's 10).</summary>
    public float SinkhornClamp { get; init; } = 10f;

    /// <summary>SimMIM mask ratio (recipe 'hvp.mask_ratio'; SimMIM's 0.6).</summary>
    public float MaskRatio { get; init; } = 0.6f;

    /// <summary>
    /// Side of a masked block in pixels (recipe 'hvp.mask_block'): the paper masks 32×32 blocks
    /// of 224-px images (1/7 of the side); at 32 px we mask 8×8 blocks (1/4 of the side, two
    /// patches), the smallest multiple of the patch that still leaves a 4×4 grid of blocks.
    /// </summary>
    public int MaskBlock { get; init; } = 8;

    /// <summary>EMA momentum m of the teacher (recipe 'hvp.momentum'; the paper's 0.995).</summary>
    public float Momentum { get; init; } = 0.995f;

    /// <summary>Temperature of S(g, Q0) (recipe 'hvp.distill_temperature'; ours).</summary>
    public float DistillTemperature { get; init; } = 0.1f;

    /// <summary>α1: multi-label weight (recipe 'hvp.weights.multilabel').</summary>
    public float MultiLabelWeight { get; init; } = 0.001f;

    /// <summary>α2: contrastive (SwAV) weight (recipe 'hvp.weights.contrastive').</summary>
    public float ContrastiveWeight { get; init; } = 0.02f;

    /// <summary>α3: SimMIM weight (recipe 'hvp.weights.mim').</summary>
    public float MimWeight { get; init; } = 1f;

    /// <summary>α4: momentum distillation weight (recipe 'hvp.weights.momentum').</summary>
    public float MomentumWeight { get; init; } = 10f;

    /// <summary>Optimiser steps (recipe 'steps').</summary>
    public int Steps { get; init; } = 300;

    /// <summary>Images per step (recipe 'batch').</summary>
    public int Batch { get; init; } = 32;

    /// <summary>AdamW peak learning rate (recipe 'optimizer.lr').</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>AdamW weight decay (recipe 'optimizer.weight_decay'; the paper's 0.05).</summary>
    public float WeightDecay { get; init; } = 0.05f;

    /// <summary>Linear warm-up steps before the cosine decay (recipe 'schedule.warmup').</summary>
    public int Warmup { get; init; } = 20;

    /// <summary>Random-crop area range low end (recipe 'hvp.crop_scale').</summary>
    public float CropScale { get; init; } = 0.5f;

    /// <summary>Random rotation range ± degrees (recipe 'hvp.rotation').</summary>
    public float Rotation { get; init; } = 15f;

    /// <summary>Colour jitter strength (brightness, contrast, saturation; recipe 'hvp.color_jitter').</summary>
    public float ColorJitter { get; init; } = 0.4f;

    /// <summary>Seed of initialisation, data order and augmentation (recipe 'seed').</summary>
    public ulong Seed { get; init; }

    public bool UsesMultiLabel => MultiLabelWeight > 0f;
    public bool UsesContrastive => ContrastiveWeight > 0f;
    public bool UsesMim => MimWeight > 0f;
    public bool UsesMomentum => MomentumWeight > 0f;

    /// <summary>The multi-label loss settings named by <see cref="MultiLabelLoss"/>.</summary>
    public AsymmetricLossSettings LossSettings => AsymmetricLossSettings.Named(MultiLabelLoss, "hvp.multilabel_loss");

    /// <summary>The pre-training source with this run's tag noise.</summary>
    public WorldSource DataSource()
    {
        var source = WorldSources.Get(Source);
        return source.Task == WorldTask.MultiLabel ? WorldSources.WithTagNoise(source, TagNoise) : source;
    }

    /// <summary>Checks every setting; throws an ArgumentException naming the recipe field, what was expected and what was found.</summary>
    public void Validate()
    {
        static void Weight(float value, string field)
        {
            if (!float.IsFinite(value) || value < 0f)
                throw new ArgumentOutOfRangeException(field, value, $"hvp-mtl: '{field}' expected a finite loss weight ≥ 0 (0 switches the loss off), found {value}");
        }
        Weight(MultiLabelWeight, "hvp.weights.multilabel");
        Weight(ContrastiveWeight, "hvp.weights.contrastive");
        Weight(MimWeight, "hvp.weights.mim");
        Weight(MomentumWeight, "hvp.weights.momentum");
        if (!(UsesMultiLabel || UsesContrastive || UsesMim || UsesMomentum))
            throw new ArgumentException("hvp-mtl: 'hvp.weights' expected at least one loss weight > 0, found all four 0", "hvp.weights");
        if (!(MaskRatio >= 0f && MaskRatio < 1f))
            throw new ArgumentOutOfRangeException("hvp.mask_ratio", MaskRatio, $"hvp-mtl: 'hvp.mask_ratio' expected in [0, 1), found {MaskRatio}");
        if (PatchSize < 1 || ImageSize % PatchSize != 0)
            throw new ArgumentException($"hvp-mtl: 'hvp.patch_size' expected a divisor of the image size {ImageSize}, found {PatchSize}", "hvp.patch_size");
        if (MaskBlock < PatchSize || MaskBlock % PatchSize != 0)
            throw new ArgumentException($"hvp-mtl: 'hvp.mask_block' expected a multiple of the patch size {PatchSize} (a patch is masked whole), found {MaskBlock}", "hvp.mask_block");
        if (ImageSize % MaskBlock != 0)
            throw new ArgumentException($"hvp-mtl: 'hvp.mask_block' expected a divisor of the image size {ImageSize}, found {MaskBlock}", "hvp.mask_block");
        if (Prototypes < 2)
            throw new ArgumentOutOfRangeException("hvp.prototypes", Prototypes, $"hvp-mtl: 'hvp.prototypes' (SwAV's K) expected at least 2, found {Prototypes}");
        if (!(SwavTemperature > 0f) || !(SinkhornEpsilon > 0f) || !(DistillTemperature > 0f))
            throw new ArgumentOutOfRangeException("hvp.swav_temperature", $"hvp-mtl: 'hvp.swav_temperature', 'hvp.sinkhorn_epsilon' and 'hvp.distill_temperature' expected > 0, found {SwavTemperature}, {SinkhornEpsilon}, {DistillTemperature}");
        if (SinkhornIterations < 1)
            throw new ArgumentOutOfRangeException("hvp.sinkhorn_iterations", SinkhornIterations, $"hvp-mtl: 'hvp.sinkhorn_iterations' expected at least 1, found {SinkhornIterations}");
        if (!(SinkhornClamp > 0f))
            throw new ArgumentOutOfRangeException("hvp.sinkhorn_clamp", SinkhornClamp, $"hvp-mtl: 'hvp.sinkhorn_clamp' (T_max) expected > 0, found {SinkhornClamp}");
        if (!(Momentum >= 0f && Momentum < 1f))
            throw new ArgumentOutOfRangeException("hvp.momentum", Momentum, $"hvp-mtl: 'hvp.momentum' expected in [0, 1), found {Momentum}");
        if (!(TagNoise >= 0f && TagNoise < 1f))
            throw new ArgumentOutOfRangeException("hvp.tag_noise", TagNoise, $"hvp-mtl: 'hvp.tag_noise' expected in [0, 1), found {TagNoise}");
        if (EmbedDim < 1 || EmbedDim % Heads != 0)
            throw new ArgumentException($"hvp-mtl: 'model.width' expected a multiple of 'hvp.heads' ({Heads}), found {EmbedDim}", "model.width");
        if (DecoderDim < 2 || DecoderDim % 2 != 0)
            throw new ArgumentException($"hvp-mtl: 'model.head_width' (decoder width d, two heads) expected an even number ≥ 2, found {DecoderDim}", "model.head_width");
        if (Depth < 1 || DecoderLayers < 1)
            throw new ArgumentOutOfRangeException("model.depth", $"hvp-mtl: 'model.depth' and 'hvp.decoder_layers' expected at least 1, found {Depth}, {DecoderLayers}");
        if (Steps < 1 || Batch < 2)
            throw new ArgumentOutOfRangeException("steps", $"hvp-mtl: 'steps' expected ≥ 1 and 'batch' ≥ 2 (Sinkhorn-Knopp balances codes over the batch), found {Steps}, {Batch}");
        if (!(LearningRate > 0f) || !(WeightDecay >= 0f))
            throw new ArgumentOutOfRangeException("optimizer.lr", $"hvp-mtl: 'optimizer.lr' expected > 0 and 'optimizer.weight_decay' ≥ 0, found {LearningRate}, {WeightDecay}");
        LossSettings.Validate("hvp.multilabel_loss");
        WorldSource source;
        try
        {
            source = WorldSources.Get(Source);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"hvp-mtl: 'tasks.0.source': {e.Message}", "tasks.0.source", e);
        }
        if ((UsesMultiLabel || UsesMomentum) && source.Task != WorldTask.MultiLabel)
            throw new ArgumentException($"hvp-mtl: 'tasks.0.source' expected a multi-label source (tags) for the multi-label loss and momentum distillation, found '{Source}', a {source.Task} source; use tags or set 'hvp.weights.multilabel' and 'hvp.weights.momentum' to 0", "tasks.0.source");
        if (source.SplitSizes.Count > 0)
            throw new ArgumentException($"hvp-mtl: 'tasks.0.source' expected a pre-training stream, found the downstream suite '{Source}'", "tasks.0.source");
    }
}
