using Tessera.Models.Demo;
using Xunit;

namespace Tessera.Tests.Models;

/// <summary>The quick-start job end to end: data, CNN, loss, backward, SGD, schedule, evaluation.</summary>
public sealed class DemoTrainerTests
{
    [Fact]
    public void ShortRunLearnsFarAboveChanceAndIsDeterministic()
    {
        var options = new DemoOptions(Steps: 60, BatchSize: 32, Seed: 3, EvalBatches: 4);
        var losses = new List<float>();
        var first = new DemoTrainer(options).Train((_, loss) => losses.Add(loss));
        Assert.True(first.Top1 > 0.7f, $"top-1 {first.Top1} after 60 steps; chance is 0.25");
        Assert.True(losses.Take(5).Average() > 2 * losses.TakeLast(5).Average(), $"loss did not fall: {losses[0]} -> {losses[^1]}");
        var second = new DemoTrainer(options).Train();
        Assert.Equal(first.FinalLoss, second.FinalLoss);
        Assert.Equal(first.Top1, second.Top1);
    }

    [Fact]
    public void BadOptionsAreRejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new DemoTrainer(new DemoOptions(Steps: 0)));
        Assert.Contains("at least 1", error.Message, StringComparison.Ordinal);
    }
}
