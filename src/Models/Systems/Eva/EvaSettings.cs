namespace Tessera.Models.Systems.Eva;

/// <summary>
/// Architecture of a small CLIP: a ViT image tower (mean-pooled patch tokens, then a bias-free
/// projection) and a causal text transformer (pooled at each caption's End token, CLIP's EOT) with
/// its own bias-free projection into the shared embedding. Saved as JSON in a teacher checkpoint's
/// metadata so the checkpoint rebuilds itself and a student can be checked against it.
/// </summary>
/// <remarks>
/// Choices the paper leaves open at our scale: mean pooling instead of CLIP's cls token (the EVA
/// student has no cls token, so EVA-CLIP's tower pools the same way as the teacher's), and the
/// teacher's "patch features" are its image tower's final LayerNorm'd patch tokens (EVA takes
/// CLIP-L's last-layer patch features).
/// </remarks>
public sealed record ClipConfig
{
    public int ImageSize { get; init; } = 32;
    public int PatchSize { get; init; } = 4;
    public int ImageWidth { get; init; } = 32;
    public int ImageDepth { get; init; } = 2;
    public int ImageHeads { get; init; } = 2;
    public int TextWidth { get; init; } = 32;
    public int TextDepth { get; init; } = 2;
    public int TextHeads { get; init; } = 2;
    /// <summary>Caption tokens (begin, words, end, padding): the grammar's longest caption has 15 words, so 20 fits all.</summary>
    public int ContextLength { get; init; } = 20;

    /// <summary>Width of the joint image-text embedding.</summary>
    public int EmbedDim { get; init; } = 32;

    /// <summary>Patches per side.</summary>
    public int Grid => ImageSize / PatchSize;

    public void Validate(string field)
    {
        if (ImageSize < 32 || ImageSize % PatchSize != 0)
            throw new ArgumentOutOfRangeException(field, ImageSize, $"eva: '{field}' image size expected a multiple of the patch size ({PatchSize}) of at least 32 pixels, found {ImageSize}");
        foreach (var (name, value) in new[] { ("image width", ImageWidth), ("image depth", ImageDepth), ("image heads", ImageHeads), ("text width", TextWidth), ("text depth", TextDepth), ("text heads", TextHeads), ("embed dim", EmbedDim) })
            if (value < 1) throw new ArgumentOutOfRangeException(field, value, $"eva: '{field}' {name} expected at least 1, found {value}");
        if (ContextLength < 17)
            throw new ArgumentOutOfRangeException(field, ContextLength, $"eva: '{field}' context length expected at least 17 tokens (the caption grammar's longest caption: 15 words + begin + end), found {ContextLength}");
        if (ImageWidth % ImageHeads != 0 || TextWidth % TextHeads != 0)
            throw new ArgumentException($"eva: '{field}' widths must divide by their heads, found image {ImageWidth}/{ImageHeads}, text {TextWidth}/{TextHeads}", field);
    }
}

/// <summary>
/// Scale and hyper-parameters of the EVA pipeline: CLIP teacher → frozen; EVA student (masked
/// feature prediction) and the feature-distillation baseline; fine-tuning; EVA-CLIP. Steps count
/// optimiser updates; every stage uses AdamW with a linear warm-up then cosine decay.
/// </summary>
public sealed record EvaSettings
{
    /// <summary>The teacher CLIP (its image tower's patch features are the targets).</summary>
    public ClipConfig Teacher { get; init; } = new();

    public int TeacherSteps { get; init; } = 600;
    public int TeacherBatch { get; init; } = 64;
    public float TeacherLearningRate { get; init; } = 3e-3f;

    /// <summary>Student ViT (plain, mean-pooled, no cls token) width, depth and heads.</summary>
    public int StudentWidth { get; init; } = 48;
    public int StudentDepth { get; init; } = 3;
    public int StudentHeads { get; init; } = 3;

    /// <summary>The paper's 40% block-wise masking.</summary>
    public float MaskRatio { get; init; } = 0.4f;

    /// <summary>BEiT's minimum block size (16 patches on a 14×14 grid); 4 on our 8×8 grid keeps several blocks per mask.</summary>
    public int MinBlockPatches { get; init; } = 4;

    /// <summary>Pre-training lengths of the MIM-vs-FD comparison (each a full run with its own cosine schedule); the last is the EVA student used downstream.</summary>
    public IReadOnlyList<int> PretrainSteps { get; init; } = [40, 100, 200];
    public int PretrainBatch { get; init; } = 48;

    /// <summary>The paper's peak 1e-3 is for batch 4096; our small batches train faster at 1.5e-3.</summary>
    public float PretrainLearningRate { get; init; } = 1.5e-3f;

    /// <summary>Stochastic depth during pre-training (the paper: 0.1).</summary>
    public float PretrainDropPath { get; init; } = 0.1f;

    /// <summary>Fine-tuning: steps and batch of the classification suites and of segmentation.</summary>
    public int FineTuneSteps { get; init; } = 100;
    public int SegmentationSteps { get; init; } = 100;
    public int FineTuneBatch { get; init; } = 32;
    public float FineTuneLearningRate { get; init; } = 2e-3f;

    /// <summary>Layer-wise lr decay (the paper: 0.85 for IN-21K, 0.95 for IN-1K, over 40 blocks; a 3-block ViT decays less per block).</summary>
    public float LayerDecay { get; init; } = 0.75f;

    /// <summary>Drop path while fine-tuning (the paper: 0.4 at 1B parameters; less for a small ViT).</summary>
    public float FineTuneDropPath { get; init; } = 0.1f;

    /// <summary>Classification suites fine-tuned (top-1 on each suite's test split) and the dense suite (mIoU).</summary>
    public IReadOnlyList<string> ClassificationSuites { get; init; } = ["down-shapes", "down-textures"];
    public string SegmentationSuite { get; init; } = "down-seg";

    /// <summary>Training images of the linear probe (the first of the suite's train split; its whole 1,200 by default).</summary>
    public int ProbeImages { get; init; } = 1200;

    /// <summary>Test images per suite.</summary>
    public int TestImages { get; init; } = 400;

    /// <summary>EVA-CLIP vs CLIP from scratch: steps of contrastive training of each.</summary>
    public int ClipSteps { get; init; } = 150;

    /// <summary>Zero-shot test images (captions test split, main-object shape).</summary>
    public int ZeroShotImages { get; init; } = 400;

    /// <summary>Prompt templates ("{class}" is the class name); null = one template per colour word, "a {colour} {class}" (captions always name the colour).</summary>
    public IReadOnlyList<string>? Prompts { get; init; }

    /// <summary>AdamW β2 of pre-training and CLIP training (the paper: 0.98); fine-tuning uses 0.999.</summary>
    public float Beta2 { get; init; } = 0.98f;

    /// <summary>Warm-up steps of every stage (capped at a quarter of the stage).</summary>
    public int Warmup { get; init; } = 20;

    /// <summary>AdamW weight decay (the paper: 0.05 for pre-training and fine-tuning).</summary>
    public float WeightDecay { get; init; } = 0.05f;

    /// <summary>Seed of initialisation, masks and data order.</summary>
    public ulong Seed { get; init; }

    /// <summary>Patches per side of the student (= the teacher's).</summary>
    public int Grid => Teacher.Grid;

    /// <summary>Checks the settings; throws an ArgumentException naming the recipe field.</summary>
    public void Validate()
    {
        Teacher.Validate("model");
        CheckMaskRatio(MaskRatio);
        if (StudentWidth < 1 || StudentDepth < 1 || StudentHeads < 1 || StudentWidth % StudentHeads != 0)
            throw new ArgumentException($"eva: 'eva.student' expected width divisible by heads and depth ≥ 1, found width {StudentWidth}, depth {StudentDepth}, heads {StudentHeads}");
        if (MinBlockPatches < 1)
            throw new ArgumentOutOfRangeException(nameof(MinBlockPatches), MinBlockPatches, $"eva: 'eva.min_block_patches' expected at least 1, found {MinBlockPatches}");
        if (PretrainSteps.Count == 0 || PretrainSteps.Any(s => s < 1))
            throw new ArgumentOutOfRangeException(nameof(PretrainSteps), $"eva: 'steps' (pre-training lengths) expected positive, found [{string.Join(", ", PretrainSteps)}]");
        foreach (var (name, value) in new[] { ("eva.teacher_steps", TeacherSteps), ("eva.finetune_steps", FineTuneSteps), ("eva.segmentation_steps", SegmentationSteps), ("eva.clip_steps", ClipSteps),
                     ("batch", PretrainBatch), ("eva.teacher_batch", TeacherBatch), ("eva.finetune_batch", FineTuneBatch), ("eva.test_images", TestImages), ("eva.zero_shot_images", ZeroShotImages), ("eva.probe_images", ProbeImages) })
            if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"eva: '{name}' expected at least 1, found {value}");
        if (!(LayerDecay > 0f && LayerDecay <= 1f))
            throw new ArgumentOutOfRangeException(nameof(LayerDecay), LayerDecay, $"eva: 'eva.layer_decay' expected in (0, 1], found {LayerDecay}");
        if (!(FineTuneDropPath >= 0f && FineTuneDropPath < 1f) || !(PretrainDropPath >= 0f && PretrainDropPath < 1f))
            throw new ArgumentOutOfRangeException(nameof(FineTuneDropPath), $"eva: 'eva.drop_path' expected in [0, 1), found fine-tune {FineTuneDropPath}, pre-train {PretrainDropPath}");
        ZeroShot.CheckTemplates(Prompts ?? ZeroShot.DefaultTemplates, "eva.prompts");
    }

    /// <summary>A mask ratio must lie strictly inside (0, 1): 0 masks nothing (that is feature distillation), 1 leaves no visible patch to condition on.</summary>
    public static void CheckMaskRatio(float ratio, string field = "eva.mask_ratio")
    {
        if (!(ratio > 0f && ratio < 1f))
            throw new ArgumentOutOfRangeException(field, ratio, $"eva: '{field}' expected a fraction of patches in (0, 1) (the paper masks 0.4), found {ratio}");
    }
}
