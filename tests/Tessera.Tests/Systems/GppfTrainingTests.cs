using Tessera.Autograd;
using Tessera.Models.Recipes;
using Tessera.Models.Systems.Gppf;
using Tessera.Models.Training;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>GPPF through the SIMT trainer: tau follows the step, gradients reach exactly the units a device ran, segmentation and depth heads train beside classification under hard routing.</summary>
public sealed class GppfTrainingTests
{
    private static Recipe TinyRecipe(int units, string routing, int devices) => new()
    {
        Name = "gppf-tiny",
        Steps = 10,
        Batch = 4,
        Size = 16,
        Seed = 3,
        Devices = devices,
        EvalBatches = 1,
        Model = new ModelSpec { Type = "gppf-resnet", Width = 4, Depth = 1, HeadWidth = 8, Units = units, Routing = routing, RouteScale = 5f },
        Optimizer = new OptimizerSpec { Type = "sgd", Lr = 0.1f, Momentum = 0f },
        Schedule = new ScheduleSpec { Type = "constant" },
        Tasks =
        [
            new TaskSpec { Name = "strokes", Source = "shapes", Head = "classification" },
            new TaskSpec { Name = "bars", Source = "shapes-bars", Head = "classification", Size = 24 },
        ],
    };

    private static Dictionary<string, float[]> Snapshot(MultiTaskModel model) =>
        model.StateDict().Where(kv => kv.Value.DType == Tessera.Engine.DType.Float32).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());

    /// <summary>Which units of each lego layer changed in one step: [layer][unit].</summary>
    private static bool[][] ChangedUnits(GppfBackbone backbone, Dictionary<string, float[]> before, Dictionary<string, float[]> after) =>
        backbone.LayerNames.Select(layer => Enumerable.Range(0, backbone.UnitCount).Select(k =>
        {
            string prefix = $"backbone.{layer}.units.{k}.";
            return before.Keys.Where(key => key.StartsWith(prefix, StringComparison.Ordinal)).Any(key => !before[key].AsSpan().SequenceEqual(after[key]));
        }).ToArray()).ToArray();

    [Fact]
    public void HardRoutingUpdatesOnlyUnitsThatSomeDeviceRan()
    {
        var build = RecipeCatalog.Build(TinyRecipe(units: 3, "hard", devices: 2));
        var backbone = (GppfBackbone)build.Model.Backbone;
        var trainer = build.CreateTrainer();
        for (int step = 0; step < 3; step++)
        {
            var before = Snapshot(build.Model);
            trainer.RunStep();
            var changed = ChangedUnits(backbone, before, Snapshot(build.Model));
            foreach (var layer in changed)
            {
                // Two devices ran one unit each: at least one of the three units got neither gradient nor statistics.
                Assert.InRange(layer.Count(c => c), 1, 2);
            }
        }
    }

    [Fact]
    public void SoftRoutingUpdatesEveryUnitAndTheSampledTasksControllers()
    {
        var build = RecipeCatalog.Build(TinyRecipe(units: 2, "soft", devices: 2));
        var backbone = (GppfBackbone)build.Model.Backbone;
        var trainer = build.CreateTrainer();
        var before = Snapshot(build.Model);
        var step = trainer.RunStep();
        var after = Snapshot(build.Model);
        Assert.All(ChangedUnits(backbone, before, after), layer => Assert.All(layer, Assert.True));
        foreach (var task in new[] { "strokes", "bars" })
        {
            bool ran = step.DeviceTasks.Contains(task);
            string key = $"backbone.stem.controller.{task}";
            Assert.Equal(ran, !before[key].AsSpan().SequenceEqual(after[key]));
        }
    }

    [Fact]
    public void TemperatureFollowsTheTrainersStep()
    {
        var build = RecipeCatalog.Build(TinyRecipe(units: 2, "soft", devices: 1));
        var backbone = (GppfBackbone)build.Model.Backbone;
        Assert.Equal(10, backbone.Schedule.TotalSteps);
        var trainer = build.CreateTrainer();
        for (int step = 0; step < 4; step++)
        {
            trainer.RunStep();
            Assert.Equal(backbone.Schedule.At(step), backbone.Tau);
        }
        trainer.RestoreStep(9);
        trainer.RunStep();
        Assert.Equal(0.01, backbone.Tau);
    }

    [Fact]
    public void HardRoutingWithSegmentationAndDepthHeadsTrainsUnderSimt()
    {
        var recipe = TinyRecipe(units: 2, "hard", devices: 3);
        recipe.Tasks =
        [
            new TaskSpec { Name = "parts", Source = "parts-seg", Head = "segmentation", Size = 40 },
            new TaskSpec { Name = "depth", Source = "depth", Head = "depth", Size = 32 },
            new TaskSpec { Name = "shapes", Source = "shapes-cls", Head = "classification", Size = 32 },
        ];
        var build = RecipeCatalog.Build(recipe);
        var trainer = build.CreateTrainer();
        for (int i = 0; i < 2; i++)
            Assert.True(double.IsFinite(trainer.RunStep().Loss));
        var metrics = trainer.Evaluate();
        Assert.True(metrics.ContainsKey("parts/mIoU") && metrics.ContainsKey("depth/abs_rel") && metrics.ContainsKey("shapes/top1"));
    }

    [Fact]
    public void ResumingAHardRoutedRunGivesTheSameWeightsBitForBit()
    {
        var recipe = TinyRecipe(units: 2, "hard", devices: 2);
        recipe.Steps = 4;
        var straight = RecipeCatalog.Build(recipe);
        var trainer = straight.CreateTrainer();
        for (int i = 0; i < 4; i++) trainer.RunStep();

        string path = Path.Combine(Path.GetTempPath(), $"tessera-gppf-{Guid.NewGuid():N}.safetensors");
        try
        {
            var first = RecipeCatalog.Build(recipe);
            var firstTrainer = first.CreateTrainer();
            for (int i = 0; i < 2; i++) firstTrainer.RunStep();
            Checkpoint.Save(path, firstTrainer, RecipeLoader.ToJson(recipe));
            var resumed = RecipeCatalog.Build(recipe);
            var resumedTrainer = resumed.CreateTrainer();
            Checkpoint.Restore(path, resumedTrainer);
            for (int i = 0; i < 2; i++) resumedTrainer.RunStep();
            var expected = Snapshot(straight.Model);
            var actual = Snapshot(resumed.Model);
            foreach (var (key, values) in expected)
                Assert.True(values.AsSpan().SequenceEqual(actual[key]), $"'{key}' differs after resuming");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
