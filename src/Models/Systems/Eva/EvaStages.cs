using System.Globalization;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Objectives;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Eva;

/// <summary>One point of a curve: (step, value).</summary>
public sealed record EvaPoint(long Step, double Value);

/// <summary>How a pre-trained student does on held-out images.</summary>
/// <param name="Cosine">Mean cosine between prediction and teacher feature over the objective's patches (masked ones for MIM, all for FD).</param>
/// <param name="FeatureStd">Std over patches of the L2-normalised predictions, mean over dimensions (0 = collapse to one vector).</param>
/// <param name="TeacherStd">The same statistic of the teacher's features at those patches.</param>
public sealed record StudentProbe(double Cosine, double FeatureStd, double TeacherStd);

/// <summary>
/// The training stages as functions. Every stage: AdamW over weight-decayed matrices and
/// undecayed gains, biases, embeddings, tokens and the logit scale (CLIP/timm's exclusions: decaying
/// the log scale would pull the temperature to 1), a linear warm-up then cosine decay to 0.
/// Pre-training images are the "captions" source's (the world's LAION stand-in), without captions
/// for the student, as EVA uses image-text data sets' images only.
/// </summary>
public static class EvaStages
{
    /// <summary>The source of image-caption pairs and of the student's pre-training images.</summary>
    public const string PretrainSource = "captions";

    /// <summary>An independent random stream per purpose (initialisation, data, masks...).</summary>
    public static Generator Stream(ulong seed, int purpose) => new(MultiTaskTrainer.Mix(seed, 40 + (ulong)purpose, 0));

    /// <summary>AdamW(β1, β2) with the decay exclusions above and warm-up + cosine over <paramref name="steps"/>.</summary>
    public static (AdamW Optimizer, LearningRateScheduler Scheduler) CreateOptimizer(IReadOnlyList<ParameterGroup> groups, float learningRate, float beta2, float weightDecay, int steps, int warmup)
    {
        var split = new List<ParameterGroup>();
        foreach (var group in groups)
        {
            var decayed = group.Parameters.Where(Decayed).ToList();
            var kept = group.Parameters.Where(p => !Decayed(p)).ToList();
            if (decayed.Count > 0) split.Add(new ParameterGroup(decayed, group.LearningRateOverride, weightDecay));
            if (kept.Count > 0) split.Add(new ParameterGroup(kept, group.LearningRateOverride, 0f));
        }
        var optimizer = new AdamW(split, learningRate, 0.9f, beta2, 1e-8f, weightDecay);
        int warm = Math.Clamp(warmup, 1, Math.Max(1, steps / 4));
        return (optimizer, new LearningRateScheduler(optimizer, Schedule.Warmup(warm, Schedule.Cosine(Math.Max(1, steps - warm)))));
    }

    /// <summary>One group over all of <paramref name="module"/>'s trainable parameters.</summary>
    public static IReadOnlyList<ParameterGroup> AllParameters(Module module) => [new ParameterGroup(module.Parameters().Where(p => p.RequiresGrad))];

    /// <summary>Matrices decay; vectors (gains, biases), the logit scale and timm's no-decay tokens do not.</summary>
    private static bool Decayed(Tensor parameter) => parameter.Rank >= 2 && parameter.Name is not ("pos_embed" or "cls_token" or "mask_token");

    /// <summary><paramref name="count"/> training scenes of a source: random indices from <paramref name="data"/> (a suite's index wraps into its train split).</summary>
    public static WorldBatch Batch(string sourceName, Generator data, int count, int size, int captionLength = 20)
    {
        var source = WorldSources.Get(sourceName);
        int? length = WorldGenerator.SplitLength(source, "train", WorldTaskSource.WorldSeed);
        var indices = new long[count];
        for (int i = 0; i < count; i++) indices[i] = data.NextInt(length ?? int.MaxValue);
        return WorldBatch.Create(source, "train", indices, WorldTaskSource.WorldSeed, size, captionLength);
    }

    /// <summary>Contrastive training of <paramref name="clip"/> on image-caption pairs; returns the loss per step.</summary>
    public static List<EvaPoint> TrainClip(ClipModel clip, int steps, int batchSize, float learningRate, EvaSettings settings, Generator data, Action<string>? log, string label)
    {
        var (optimizer, scheduler) = CreateOptimizer(AllParameters(clip), learningRate, settings.Beta2, settings.WeightDecay, steps, settings.Warmup);
        var curve = new List<EvaPoint>(steps);
        clip.Train();
        for (int step = 0; step < steps; step++)
        {
            using var scope = new TensorScope();
            var batch = Batch(PretrainSource, data, batchSize, clip.Config.ImageSize, clip.Config.ContextLength);
            var loss = clip.Loss(batch.Images, batch.CaptionTokens);
            curve.Add(new EvaPoint(step, Finite(loss.Item(), label, step)));
            loss.Backward(null, freeActivations: true);
            optimizer.Step();
            scheduler.Step();
            optimizer.ZeroGrad();
            Progress(log, label, step, steps, curve);
        }
        return curve;
    }

    /// <summary>
    /// Pre-trains <paramref name="student"/> against the frozen <paramref name="teacher"/>:
    /// masked (EVA: block-wise masks at the settings' ratio, loss over masked patches) or not (FD:
    /// every patch of the intact image). Returns the loss per step (−cosine).
    /// </summary>
    public static List<EvaPoint> Pretrain(EvaStudent student, ClipModel teacher, int steps, bool masked, EvaSettings settings, Generator data, Generator masks, Action<string>? log, string label)
    {
        if (teacher.Parameters().Any(p => p.RequiresGrad))
            throw new InvalidOperationException("eva: the teacher must be frozen (ClipModel.Freeze) before the student trains against it");
        var (optimizer, scheduler) = CreateOptimizer(AllParameters(student), settings.PretrainLearningRate, settings.Beta2, settings.WeightDecay, steps, settings.Warmup);
        var curve = new List<EvaPoint>(steps);
        student.Train();
        for (int step = 0; step < steps; step++)
        {
            using var scope = new TensorScope();
            var batch = Batch(PretrainSource, data, settings.PretrainBatch, teacher.Config.ImageSize);
            Tensor targets;
            using (GradMode.NoGrad()) targets = teacher.PatchFeatures(batch.Images);
            var mask = masked ? Masks(batch.Images.Size(0), settings, masks) : null;
            var loss = student.Loss(batch.Images, targets, mask);
            curve.Add(new EvaPoint(step, Finite(loss.Item(), label, step)));
            loss.Backward(null, freeActivations: true);
            optimizer.Step();
            scheduler.Step();
            optimizer.ZeroGrad();
            Progress(log, label, step, steps, curve);
        }
        return curve;
    }

    /// <summary>Block-wise masks [count, N] (1 = masked) from the shared BEiT generator.</summary>
    public static Tensor Masks(int count, EvaSettings settings, Generator masks)
    {
        var list = new List<bool[]>(count);
        for (int i = 0; i < count; i++) list.Add(PatchMasking.Blockwise(settings.Grid, settings.Grid, settings.MaskRatio, masks, settings.MinBlockPatches));
        return PatchMasking.ToTensor(list);
    }

    /// <summary>
    /// Held-out check of a student (eval mode, no gradient): cosine to the teacher on the first
    /// <paramref name="count"/> captions test images under fixed masks (seeded by 0, the same for
    /// every arm) for MIM, or on every patch for FD, and the feature spread that reveals collapse.
    /// </summary>
    public static StudentProbe Probe(EvaStudent student, ClipModel teacher, bool masked, EvaSettings settings, int count = 128)
    {
        bool training = student.Training;
        student.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            using var scope = new TensorScope();
            var source = WorldSources.Get(PretrainSource);
            var batch = WorldBatch.Create(source, "test", Enumerable.Range(0, count).Select(i => (long)i).ToArray(), WorldTaskSource.WorldSeed, teacher.Config.ImageSize);
            var targets = teacher.PatchFeatures(batch.Images);
            var mask = masked ? Masks(count, settings, new Generator(0)) : null;
            var predictions = student.Predict(batch.Images, mask);
            var cosine = Functional.CosineSimilarity(predictions, targets, dim: -1); // [B, N]
            var weights = mask ?? Tensor.OnesLike(cosine);
            double meanCosine = Functional.Sum(cosine * weights).Item() / Functional.Sum(weights).Item();
            return new StudentProbe(meanCosine, Spread(predictions, weights), Spread(targets, weights));
        }
        finally
        {
            student.Train(training);
        }
    }

    /// <summary>Std over the selected rows of the L2-normalised features [B, N, D], averaged over D.</summary>
    private static double Spread(Tensor features, Tensor weights)
    {
        var normalised = Functional.Normalize(features, dim: -1).Reshape(-1, features.Size(2)).ToArray();
        var selected = weights.Contiguous().ToArray();
        int width = features.Size(2), rows = 0;
        var sum = new double[width];
        var squares = new double[width];
        for (int r = 0; r < selected.Length; r++)
        {
            if (selected[r] == 0f) continue;
            rows++;
            for (int d = 0; d < width; d++)
            {
                double v = normalised[r * width + d];
                sum[d] += v;
                squares[d] += v * v;
            }
        }
        if (rows < 2) return 0;
        double total = 0;
        for (int d = 0; d < width; d++) total += Math.Sqrt(Math.Max(0, (squares[d] - sum[d] * sum[d] / rows) / (rows - 1)));
        return total / width;
    }

    internal static double Finite(double value, string label, long step)
    {
        if (!double.IsFinite(value))
            throw new NonFiniteLossException(string.Create(CultureInfo.InvariantCulture, $"eva: non-finite loss ({value}) in {label} at step {step}; lower the learning rate"));
        return value;
    }

    internal static void Progress(Action<string>? log, string label, int step, int steps, List<EvaPoint> curve)
    {
        if (log is null || (step + 1) % Math.Max(1, steps / 4) != 0) return;
        double recent = curve.Skip(Math.Max(0, curve.Count - 10)).Average(p => p.Value);
        log(string.Create(CultureInfo.InvariantCulture, $"    {label}: step {step + 1}/{steps}, loss {recent:F4}"));
    }
}
