using System.Globalization;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.Loading;
using Tessera.Models.Data.World;
using Tessera.Models.Metrics;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>Downstream fine-tuning scale (every arm, the scratch baseline included, uses the same).</summary>
/// <param name="ClassificationSuites">Held-out classification suites (down-shapes, ...): full fine-tuning, top-1 on the test split.</param>
/// <param name="SegmentationSuite">Held-out segmentation suite (down-seg): full fine-tuning with a light head, mIoU on the test split.</param>
/// <param name="Steps">Fine-tuning steps per task.</param>
/// <param name="Batch">Images per fine-tuning step.</param>
/// <param name="LearningRate">AdamW peak learning rate (warm-up a tenth of the steps, then cosine).</param>
/// <param name="TestImages">Test images per suite.</param>
public sealed record HvpDownstreamSettings(IReadOnlyList<string> ClassificationSuites, string SegmentationSuite, int Steps, int Batch, float LearningRate, int TestImages)
{
    /// <summary>Fine-tuning steps on the segmentation suite (null: <see cref="Steps"/>). The light head needs several hundred steps to leave the background-only floor.</summary>
    public int? SegmentationSteps { get; init; }

    /// <summary>Fine-tuning steps on a suite of this task.</summary>
    public int StepsFor(WorldTask task) => task == WorldTask.Segmentation ? SegmentationSteps ?? Steps : Steps;
}

/// <summary>
/// Transfer of a pre-trained backbone (Table 5's protocol at our scale: fine-tune everything on
/// the downstream task): a linear classifier on the mean-pooled tokens for each classification
/// suite, and for segmentation a light head (a per-token linear map to class logits on the
/// stride-4 token grid, bilinearly upsampled to full resolution; cross-entropy with the ignore
/// index). Every task starts from the same pre-trained weights (a fresh copy per task).
/// Also: the multi-label mAP of a pre-trained Query2Label head against clean and noisy tags.
/// </summary>
public static class HvpDownstream
{
    /// <summary>Fine-tunes a copy of <paramref name="weights"/> (null: random init, the scratch baseline) on each task; metric per task name (%).</summary>
    public static Dictionary<string, double> Evaluate(IReadOnlyDictionary<string, Tensor>? weights, HvpMtlSettings settings, HvpDownstreamSettings downstream, ulong seed, Action<string>? log)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(downstream);
        var results = new Dictionary<string, double>(StringComparer.Ordinal);
        int purpose = 0;
        foreach (var suite in downstream.ClassificationSuites)
            results[suite] = FineTune(weights, settings, downstream, WorldSources.Get(suite), seed, purpose++);
        results[downstream.SegmentationSuite] = FineTune(weights, settings, downstream, WorldSources.Get(downstream.SegmentationSuite), seed, purpose++);
        log?.Invoke("    fine-tuned: " + string.Join(", ", results.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F1}"))));
        return results;
    }

    /// <summary>Top-1 (%) for a classification suite, mIoU (%) for a segmentation suite.</summary>
    public static double FineTune(IReadOnlyDictionary<string, Tensor>? weights, HvpMtlSettings settings, HvpDownstreamSettings downstream, WorldSource suite, ulong seed, int purpose)
    {
        var generator = new Generator(Training.MultiTaskTrainer.Mix(seed, 60 + (ulong)purpose, 0));
        var backbone = HvpEncoder.CreateBackbone(settings, generator);
        if (weights is not null) backbone.LoadStateDict(weights);
        bool segmentation = suite.Task == WorldTask.Segmentation;
        if (!segmentation && suite.Task != WorldTask.Classification)
            throw new ArgumentException($"hvp-mtl downstream: suite '{suite.Name}' is a {suite.Task} suite; expected classification or segmentation", nameof(suite));
        int classes = segmentation ? suite.SegmentationClassCount : suite.ClassNames().Count;
        var head = new Linear(settings.EmbedDim, classes, generator: generator);
        var optimizer = new AdamW(backbone.Parameters().Concat(head.Parameters()), downstream.LearningRate, weightDecay: settings.WeightDecay);
        int steps = downstream.StepsFor(suite.Task), warmup = Math.Max(1, steps / 10);
        var scheduler = new LearningRateScheduler(optimizer, Schedule.Warmup(warmup, Schedule.Cosine(Math.Max(1, steps - warmup), 0.01)));
        int size = settings.ImageSize, grid = size / settings.PatchSize;
        Tensor Logits(Tensor images)
        {
            var tokens = backbone.ForwardTokens(images);
            if (!segmentation) return head.Forward(Functional.Mean(tokens, 1));
            var map = head.Forward(tokens).Transpose(1, 2).Reshape(images.Size(0), classes, grid, grid);
            return Functional.Interpolate(map, (size, size), mode: InterpolationMode.Bilinear, alignCorners: false);
        }
        backbone.Train();
        using (var loader = WorldLoader.Create(suite, "train", downstream.Batch, steps, WorldTaskSource.WorldSeed ^ seed, size))
        {
            foreach (var batch in loader.Batches())
            {
                using var scope = new TensorScope();
                using (batch)
                {
                    var loss = segmentation
                        ? Functional.CrossEntropy(Logits(batch.Images), batch.Semantic, ignoreIndex: WorldSource.IgnoreIndex)
                        : Functional.CrossEntropy(Logits(batch.Images), batch.Classes);
                    if (!float.IsFinite(loss.Item()))
                        throw new Training.NonFiniteLossException($"hvp-mtl fine-tune on {suite.Name}: non-finite loss; lower the fine-tuning learning rate");
                    loss.Backward(null, freeActivations: true);
                    optimizer.Step();
                    scheduler.Step();
                    optimizer.ZeroGrad();
                }
            }
        }
        backbone.Eval();
        int count = Math.Min(downstream.TestImages, WorldGenerator.SplitLength(suite, "test", WorldTaskSource.WorldSeed) ?? downstream.TestImages);
        long correct = 0;
        var confusion = new ConfusionMatrix(classes, WorldSource.IgnoreIndex);
        using (GradMode.NoGrad())
        {
            for (int start = 0; start < count; start += 100)
            {
                using var scope = new TensorScope();
                var indices = Enumerable.Range(start, Math.Min(100, count - start)).Select(i => (long)i).ToArray();
                using var batch = WorldBatch.Create(suite, "test", indices, WorldTaskSource.WorldSeed, size);
                var predicted = Logits(batch.Images).Argmax(1);
                if (segmentation) confusion.Update(predicted, batch.Semantic);
                else
                {
                    long[] p = predicted.ToArray<long>(), t = batch.Classes.ToArray<long>();
                    for (int i = 0; i < p.Length; i++) if (p[i] == t[i]) correct++;
                }
            }
        }
        return segmentation ? 100.0 * confusion.MeanIntersectionOverUnion() : 100.0 * correct / count;
    }

    /// <summary>mAP (%) of the encoder's Query2Label head on the first <paramref name="count"/> test scenes of the pre-training source, against the clean and the noisy tags.</summary>
    public static (double Clean, double Noisy) MultiLabelMap(HvpEncoder encoder, WorldSource source, int size, int count)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        bool training = encoder.Training;
        encoder.Eval();
        var scores = new List<float>();
        var clean = new List<float>();
        var noisy = new List<float>();
        using (GradMode.NoGrad())
        {
            for (int start = 0; start < count; start += 100)
            {
                using var scope = new TensorScope();
                var indices = Enumerable.Range(start, Math.Min(100, count - start)).Select(i => (long)i).ToArray();
                using var batch = WorldBatch.Create(source, "test", indices, WorldTaskSource.WorldSeed, size);
                var logits = encoder.Labels.Forward(encoder.Backbone.ForwardTokens(batch.Images)).Logits;
                scores.AddRange(logits.Contiguous().ToArray<float>());
                clean.AddRange(batch.CleanMultiLabels.ToArray<float>());
                noisy.AddRange(batch.MultiLabels.ToArray<float>());
            }
        }
        encoder.Train(training);
        int classes = ShapeSdf.Count, rows = scores.Count / classes;
        using var scoreTensor = Tensor.FromArray(scores.ToArray(), rows, classes);
        using var cleanTensor = Tensor.FromArray(clean.ToArray(), rows, classes);
        using var noisyTensor = Tensor.FromArray(noisy.ToArray(), rows, classes);
        return (100.0 * MultiLabelAveragePrecision.Mean(scoreTensor, cleanTensor), 100.0 * MultiLabelAveragePrecision.Mean(scoreTensor, noisyTensor));
    }
}
