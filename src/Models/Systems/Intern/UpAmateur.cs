using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Text;
using Tessera.Models.Objectives;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>
/// Up-A-G's two towers: the MetaNet image encoder ("image") with a linear projection of its pooled
/// C5 ("image_proj"), the shared <see cref="TextTransformer"/> over caption tokens ("text", pooled at
/// the End token), the MLM head on its token features ("mlm"), and the learnable logit scale
/// ("logit_scale", temperature 0.07 at start). Embeddings are L2-normalised.
/// </summary>
public sealed class UpAModel : Module
{
    public UpAModel(InternSettings settings, Generator generator)
    {
        Image = RegisterModule("image", new MetaNet(settings.Backbone, generator));
        ImageProjection = RegisterModule("image_proj", new Linear(Image.FeatureChannels[^1], settings.TextWidth, generator: generator));
        Text = RegisterModule("text", new TextTransformer(contextLength: settings.ContextLength, width: settings.TextWidth, depth: 2, heads: Math.Max(1, settings.TextWidth / 16), generator: generator));
        Mlm = RegisterModule("mlm", new Linear(settings.TextWidth, Text.VocabularySize, generator: generator));
        LogitScale = RegisterModule("logit_scale", new LearnableLogitScale(0.07f));
    }

    public MetaNet Image { get; }
    public Linear ImageProjection { get; }
    public TextTransformer Text { get; }
    public Linear Mlm { get; }
    public LearnableLogitScale LogitScale { get; }

    public Tensor EmbedImages(Tensor images) => F.Normalize(ImageProjection.Forward(F.GlobalAvgPool2d(Image.ForwardFeatures(images)[^1]).Flatten(1)), 1);
}

/// <summary>
/// The Up-A-G objective on one batch's embeddings (L2-normalised rows [B, D]):
///   ICS = mean over the 2 x 2 image-text view pairs of symmetric InfoNCE (logit scale s)
///         + mean(1 − cos(image1, image2)) + MLM cross-entropy over the masked positions (targets −100 elsewhere),
///   STS = ½ [InfoNCE(image1, n) + InfoNCE(image2, n)] with n the nearest-neighbour text targets,
///   L = 0.5·ICS + 0.5·STS.
/// </summary>
public static class UpAObjective
{
    /// <param name="mlmLogits">[B, L, V] MLM logits of the masked caption.</param>
    /// <param name="mlmTargets">[B, L] int64 original ids at masked positions, −100 elsewhere.</param>
    /// <param name="neighbours">[B, D] the STS positives (rows of the text queue; no gradient).</param>
    /// <param name="logitScale">Scalar exp(log_scale) clamped at 100.</param>
    public static (Tensor Loss, Tensor Ics, Tensor Sts, Tensor Mlm) Compute(Tensor image1, Tensor image2, Tensor text1, Tensor text2,
        Tensor mlmLogits, Tensor mlmTargets, Tensor neighbours, Tensor logitScale)
    {
        var mlm = F.CrossEntropy(mlmLogits.Reshape(-1, mlmLogits.Size(2)), mlmTargets.Reshape(-1), ignoreIndex: TokenMasking.Ignore);
        var cosine = (1f - F.CosineSimilarity(image1, image2, 1)).Mean();
        var ics = ContrastiveLoss.MultiViewInfoNce([image1, image2], [text1, text2], logitScale) + cosine + mlm;
        var sts = (ContrastiveLoss.InfoNce(image1, neighbours, logitScale) + ContrastiveLoss.InfoNce(image2, neighbours, logitScale)) * 0.5f;
        return (ics * 0.5f + sts * 0.5f, ics, sts, mlm);
    }
}

/// <summary>The terms of one Up-A-G step (values, for the curves).</summary>
public sealed record UpAStep(long Step, double Loss, double Ics, double Sts, double Mlm, double Temperature, bool Skipped);

/// <summary>
/// Up-A-G, INTERN's amateur stage: image-text contrastive pre-training from scratch on the world's
/// "captions" source. Per step: two augmented image views (<see cref="ImageViews"/>) and two text
/// views (word dropout 10%, and the MLM-masked caption of BERT's 80/10/10 over 15% of the words);
///   ICS = InfoNCE over all 2 x 2 image-text view pairs + (1 − cos) between the image views + MLM CE,
///   STS = InfoNCE of each image view against its caption's nearest neighbour in a FIFO queue of
///         earlier text features (the caption itself while the queue is empty),
///   L = 0.5·ICS + 0.5·STS.
/// The logit scale learns at 0.1x the learning rate without weight decay. The loss-spike guard
/// skips a step above its threshold and restores the weights of 10 steps earlier.
/// </summary>
public sealed class UpAmateur
{
    private readonly InternSettings _settings;
    private readonly WorldSource _captions = WorldSources.Get("captions");

    public UpAmateur(InternSettings settings, Generator? generator = null)
    {
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        settings.Validate();
        CheckContext(settings);
        Model = new UpAModel(settings, generator ?? InternTasks.Stream(settings.Seed, 1));
        var scale = Model.LogitScale.Parameters().ToList();
        var rest = Model.Parameters().Where(p => !scale.Contains(p)).ToList();
        Optimizer = new AdamW([new ParameterGroup(rest), new ParameterGroup(scale, settings.LearningRate * 0.1f, 0f)], settings.LearningRate, weightDecay: settings.WeightDecay);
        Scheduler = new LearningRateScheduler(Optimizer, InternStages.WarmupCosine(settings.Warmup, settings.UpASteps));
        Guard = new LossSpikeGuard(Model, settings.SpikeRatio);
        Queue = new FeatureQueue(settings.QueueSize, settings.TextWidth);
        Data = new Generator(MultiTaskTrainer.Mix(settings.Seed, 60, 0));
    }

    public UpAModel Model { get; }
    public AdamW Optimizer { get; }
    public LearningRateScheduler Scheduler { get; }
    public LossSpikeGuard Guard { get; }
    public FeatureQueue Queue { get; }
    public Generator Data { get; }

    /// <summary>Steps run so far (skipped ones included).</summary>
    public long Step { get; private set; }

    /// <summary>Forces the next step's loss to this value (tests of the spike guard), or null.</summary>
    public double? ForcedLoss { get; set; }

    /// <summary>
    /// Tokens of the world's longest caption: "a small striped red star in front of a striped blue
    /// ring in a kitchen" is 15 words, plus the begin and end tokens (the grammar of
    /// <see cref="Captions.Describe"/>; every colour, texture, shape and scene name is one word).
    /// </summary>
    public const int LongestCaptionTokens = 17;

    /// <summary>Every world caption fits the text tower's context (checked before anything is trained or written).</summary>
    public static void CheckContext(InternSettings settings)
    {
        if (settings.ContextLength < LongestCaptionTokens)
            throw new ArgumentOutOfRangeException(nameof(settings), settings.ContextLength,
                $"intern: 'intern.context_length' expected at least {LongestCaptionTokens} tokens (the world's longest caption with its begin and end tokens), found {settings.ContextLength}");
    }

    /// <summary>One Up-A-G step (or a skipped spike).</summary>
    public UpAStep RunStep(Action<string>? log = null)
    {
        long step = Step++;
        Model.Train();
        Guard.BeginStep(step);
        using var scope = new TensorScope();
        var indices = new long[_settings.Batch];
        for (int i = 0; i < indices.Length; i++) indices[i] = Data.NextInt(int.MaxValue);
        var batch = WorldBatch.Create(_captions, "train", indices, WorldTaskSource.WorldSeed, _settings.Size, captionLength: _settings.ContextLength);
        var (view1, _) = ImageViews.Augment(batch.Images, Data);
        var (view2, _) = ImageViews.Augment(batch.Images, Data);
        var image1 = Model.EmbedImages(view1);
        var image2 = Model.EmbedImages(view2);
        var dropped = TokenMasking.Drop(batch.CaptionTokens, 0.1f, Data);
        var (masked, targets) = TokenMasking.ForLanguageModel(batch.CaptionTokens, 0.15f, Data);
        var text1 = F.Normalize(Model.Text.Forward(dropped), 1);
        var maskedTokens = Model.Text.ForwardTokens(masked);
        var text2 = F.Normalize(Model.Text.Pool(masked, maskedTokens), 1);
        var logits = Model.Mlm.Forward(maskedTokens);
        var neighbours = Queue.Count == 0 ? text1.Detach() : Queue.NearestNeighbours(text1.Detach());
        var (loss, ics, sts, mlm) = UpAObjective.Compute(image1, image2, text1, text2, logits, targets, neighbours, Model.LogitScale.Scale());
        double value = ForcedLoss ?? loss.Item();
        ForcedLoss = null;
        double temperature = Model.LogitScale.Temperature;
        if (!Guard.Check(step, value, log))
        {
            Scheduler.Step();
            return new UpAStep(step, value, ics.Item(), sts.Item(), mlm.Item(), temperature, true);
        }
        loss.Backward();
        Optimizer.Step();
        Scheduler.Step();
        Optimizer.ZeroGrad();
        Queue.Enqueue(text1.Detach());
        return new UpAStep(step, value, ics.Item(), sts.Item(), mlm.Item(), temperature, false);
    }

    /// <summary>Runs <paramref name="steps"/> steps; returns every step's terms.</summary>
    public List<UpAStep> Run(int steps, Action<string>? log)
    {
        var curve = new List<UpAStep>(steps);
        var progress = new Progress(log, "up-a-g", steps);
        for (int s = 0; s < steps; s++)
        {
            var result = RunStep(log);
            curve.Add(result);
            progress.Report(s + 1, result.Loss);
        }
        return curve;
    }
}
