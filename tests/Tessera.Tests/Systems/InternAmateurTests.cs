using Tessera.Autograd;
using Tessera.Models.Systems.Intern;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>
/// INTERN's Up-A on tiny settings: the loss-spike guard restores bit-identical weights of 10 steps
/// earlier, the logit scale learns at 0.1x, Up-A-L leaves the frozen backbone untouched, and bad
/// settings are refused with the recipe field named.
/// </summary>
public sealed class InternAmateurTests
{
    private static readonly InternSettings Tiny = new()
    {
        Backbone = new MetaNetOptions { StemChannels = 4, Stages = [new(GopKind.Conv, 4), new(GopKind.Conv, 8), new(GopKind.Transformer, 8, 1, 2), new(GopKind.Transformer, 16)] },
        Batch = 4,
        QueueSize = 8,
        TextWidth = 16,
        UpASteps = 20,
        UpALSteps = 2,
        HeadWidth = 8,
    };

    private static Dictionary<string, float[]> Snapshot(UpAModel model) =>
        model.StateDict().Where(kv => kv.Value.DType == Tessera.Engine.DType.Float32).ToDictionary(kv => kv.Key, kv => kv.Value.Contiguous().ToArray<float>());

    [Fact]
    public void SpikeGuardRestoresWeightsOfTenStepsEarlier()
    {
        var upA = new UpAmateur(Tiny);
        var starts = new List<Dictionary<string, float[]>>();
        for (int s = 0; s < 12; s++)
        {
            starts.Add(Snapshot(upA.Model));
            Assert.False(upA.RunStep().Skipped);
        }
        starts.Add(Snapshot(upA.Model));
        Assert.NotEqual(starts[2]["image.stem.0.weight"], starts[12]["image.stem.0.weight"]);
        upA.ForcedLoss = 1e9;
        var spike = upA.RunStep();
        Assert.True(spike.Skipped);
        var restored = Snapshot(upA.Model);
        foreach (var (name, values) in starts[2]) Assert.True(values.AsSpan().SequenceEqual(restored[name]), $"'{name}' differs from its value at step 2");
        var trigger = Assert.Single(upA.Guard.Events);
        Assert.Equal(12, trigger.Step);
        Assert.Equal(2, trigger.RestoredStep);
        Assert.False(upA.RunStep().Skipped);
    }

    [Fact]
    public void LogitScaleLearnsAtATenthOfTheRate()
    {
        var upA = new UpAmateur(Tiny);
        for (int s = 0; s < 3; s++) Assert.True(double.IsFinite(upA.RunStep().Loss));
        Assert.Equal(upA.Optimizer.Groups[0].LearningRate * 0.1f, upA.Optimizer.Groups[1].LearningRate, 6);
        Assert.Same(upA.Model.LogitScale.LogScale, Assert.Single(upA.Optimizer.Groups[1].Parameters));
        Assert.NotEqual(MathF.Log(1f / 0.07f), upA.Model.LogitScale.LogScale.Item());
    }

    [Fact]
    public void UpALocalLeavesTheBackboneFrozen()
    {
        var upA = new UpAmateur(Tiny);
        var before = Snapshot(upA.Model);
        var local = new UpLocal(upA.Model.Image, Tiny, proposalsPerImage: 3, dim: 8);
        var curve = local.Run(2, null);
        Assert.All(curve, p => Assert.True(double.IsFinite(p.Loss)));
        var after = Snapshot(upA.Model);
        foreach (var (name, values) in before) Assert.True(values.AsSpan().SequenceEqual(after[name]), $"Up-A-L changed the frozen '{name}'");
    }

    [Fact]
    public void BadSettingsNameTheRecipeField()
    {
        var context = Assert.Throws<ArgumentOutOfRangeException>(() => new UpAmateur(Tiny with { ContextLength = 4 }));
        Assert.Contains("'intern.context_length'", context.Message);
        Assert.Contains("found 4", context.Message);
        var queue = Assert.Throws<ArgumentOutOfRangeException>(() => new UpAmateur(Tiny with { QueueSize = 2 }));
        Assert.Contains("'intern.queue_size'", queue.Message);
        Assert.Contains("found 2", queue.Message);
        var fraction = Assert.Throws<ArgumentOutOfRangeException>(() => DownstreamA.Evaluate(null!, null!, 32, 1.5, 0, null));
        Assert.Contains("'downstream.fraction'", fraction.Message);
        var empty = Assert.Throws<ArgumentException>(() => InternTasks.Build([], null!, Tiny, new Tessera.Engine.Random.Generator(1)));
        Assert.Contains("empty source list", empty.Message);
    }
}
