using Tessera.Autograd;
using Tessera.Models.Data.World;
using Tessera.Models.Probe;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>Downstream evaluation scale.</summary>
/// <param name="ProbeSuites">Classification suites for the linear probe (AVG Cls is their mean).</param>
/// <param name="ProbeTrain">Training images per suite (the first of the suite's "train" split).</param>
/// <param name="ProbeTest">Test images per suite (the first of its "test" split).</param>
/// <param name="ProbeIterations">L-BFGS iterations per L2 value (the paper: at most 1000).</param>
/// <param name="DetectionSteps">Fine-tuning steps of Faster R-CNN-lite on down-det (backbone and head trained).</param>
/// <param name="DetectionBatch">Images per fine-tuning step.</param>
/// <param name="DetectionTest">Test images of down-det for mAP.</param>
public sealed record DownstreamSettings(IReadOnlyList<string> ProbeSuites, int ProbeTrain, int ProbeTest, int ProbeIterations, int DetectionSteps, int DetectionBatch, int DetectionTest);

/// <summary>What one backbone scores downstream.</summary>
/// <param name="ProbeAccuracy">Test accuracy (%) per suite.</param>
/// <param name="DetectionMap">down-det mAP (IoU 0.5:0.95, %) after fine-tuning.</param>
/// <param name="DetectionAp50">down-det AP50 (%).</param>
public sealed record DownstreamResult(IReadOnlyDictionary<string, double> ProbeAccuracy, double DetectionMap, double DetectionAp50)
{
    /// <summary>Mean probe accuracy over the suites (the paper's AVG Cls).</summary>
    public double AverageClassification => ProbeAccuracy.Values.Average();
}

/// <summary>
/// Transfer of a pre-trained backbone: a linear probe (L-BFGS logistic regression with the L2
/// sweep 1e-5..1e-1, <see cref="LinearProbe"/>) on globally pooled last-stage features of each
/// held-out classification suite, and a detection fine-tune (a fresh Faster R-CNN-lite head on
/// every level, backbone trained too) on down-det, scored by mAP on its test split.
/// </summary>
public static class Downstream
{
    /// <summary>Probe then detection fine-tune (the backbone is changed by the fine-tune; probe first). <paramref name="afterUpdate"/> runs after each fine-tuning update (pruning masks).</summary>
    public static DownstreamResult Evaluate(IMultiScaleBackbone backbone, DownstreamSettings downstream, XLearnerSettings settings, Action<string>? log, Action<long>? afterUpdate = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(downstream);
        var probe = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var suite in downstream.ProbeSuites)
            probe[suite] = Probe(backbone, suite, downstream, settings);
        log?.Invoke("    probe: " + string.Join(", ", probe.Select(kv => FormattableString.Invariant($"{kv.Key} {kv.Value:F1}"))));
        var (map, ap50) = FineTuneDetection(backbone, downstream, settings, log, afterUpdate);
        return new DownstreamResult(probe, map, ap50);
    }

    /// <summary>Linear-probe test accuracy (%) of the backbone's pooled last map on a classification suite.</summary>
    public static double Probe(IMultiScaleBackbone backbone, string suite, DownstreamSettings downstream, XLearnerSettings settings)
    {
        var source = WorldSources.Get(suite);
        if (source.Task != WorldTask.Classification)
            throw new ArgumentException($"xlearner probe: suite '{suite}' is a {source.Task} suite; the linear probe needs a classification suite (down-shapes, down-textures, down-colours)", nameof(suite));
        var train = Features(backbone, source, "train", downstream.ProbeTrain, settings.Size);
        var test = Features(backbone, source, "test", downstream.ProbeTest, settings.Size);
        var report = LinearProbe.Run(train, null, test, new LinearProbeOptions { MaxIterations = downstream.ProbeIterations, Seed = settings.Seed }, source.ClassNames().Count);
        return 100.0 * report.TestAccuracy!.Value;
    }

    /// <summary>
    /// The images of <paramref name="split"/> that a probe asking for <paramref name="requested"/> uses:
    /// the first <paramref name="requested"/>, or the whole split when it is smaller (down-textures has
    /// 800 train / 400 test images, down-shapes and down-colours 1,200 / 600).
    /// </summary>
    public static int ImagesUsed(string suite, string split, int requested) =>
        Math.Min(requested, WorldGenerator.SplitLength(WorldSources.Get(suite), split, WorldTaskSource.WorldSeed) ?? requested);

    /// <summary>The images of <paramref name="split"/> each probe suite uses: "400" when they are equal, else "600 / 400 / 600" in suite order.</summary>
    public static string DescribeImages(DownstreamSettings downstream, string split)
    {
        ArgumentNullException.ThrowIfNull(downstream);
        var counts = downstream.ProbeSuites.Select(s => ImagesUsed(s, split, split == "test" ? downstream.ProbeTest : downstream.ProbeTrain)).ToArray();
        return counts.Distinct().Count() == 1
            ? counts[0].ToString("N0", System.Globalization.CultureInfo.InvariantCulture)
            : string.Join(" / ", counts.Select(c => c.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Pooled last-stage features [n, C] and labels [n] of the first <paramref name="count"/> images of a split (eval mode, no gradient).</summary>
    public static ProbeSplit Features(IMultiScaleBackbone backbone, WorldSource source, string split, int count, int size)
    {
        count = ImagesUsed(source.Name, split, count);
        var module = backbone.Module;
        bool training = module.Training;
        module.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            var rows = new List<float[]>();
            var labels = new List<long>();
            const int batchSize = 100;
            for (int start = 0; start < count; start += batchSize)
            {
                using var scope = new TensorScope();
                var indices = Enumerable.Range(start, Math.Min(batchSize, count - start)).Select(i => (long)i).ToArray();
                var batch = WorldBatch.Create(source, split, indices, WorldTaskSource.WorldSeed, size);
                var pooled = Functional.GlobalAvgPool2d(backbone.Forward(source.Name, batch.Images).Final).Flatten(1).Contiguous();
                int width = pooled.Size(1);
                var values = pooled.ToArray<float>();
                for (int i = 0; i < indices.Length; i++) rows.Add(values.AsSpan(i * width, width).ToArray());
                labels.AddRange(batch.Classes.ToArray<long>());
            }
            int featureWidth = rows[0].Length;
            var flat = rows.SelectMany(r => r).ToArray();
            return new ProbeSplit(Tensor.FromArray(flat, rows.Count, featureWidth), Tensor.FromArray(labels.ToArray(), labels.Count));
        }
        finally
        {
            module.Train(training);
        }
    }

    /// <summary>Fine-tunes a fresh detection head and the backbone on down-det; returns test (mAP, AP50) in %.</summary>
    public static (double Map, double Ap50) FineTuneDetection(IMultiScaleBackbone backbone, DownstreamSettings downstream, XLearnerSettings settings, Action<string>? log, Action<long>? afterUpdate = null)
    {
        var source = new SourceSpec("down-det", "detection", "det", downstream.DetectionBatch);
        var tasks = SourceTrainer.BuildTasks([source], backbone, settings.HeadWidth, settings.Size, XLearnerStages.InitStream(settings.Seed, 5));
        var model = new MultiTaskModel(backbone, tasks);
        var fineTune = settings with { Warmup = Math.Min(settings.Warmup, downstream.DetectionSteps / 4) };
        XLearnerStages.Train(model, fineTune, downstream.DetectionSteps, 0, downstream.DetectionSteps, log, "detection fine-tune", afterUpdate: afterUpdate);
        var metrics = SourceTrainer.Evaluate(model, Math.Max(1, downstream.DetectionTest / downstream.DetectionBatch));
        return (100.0 * metrics["down-det/mAP"], 100.0 * metrics["down-det/AP50"]);
    }
}
