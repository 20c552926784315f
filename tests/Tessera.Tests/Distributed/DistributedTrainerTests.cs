using Tessera.Engine.Distributed;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using Xunit;

namespace Tessera.Tests.Distributed;

/// <summary>
/// The distributed SIMT step with ranks as threads (<see cref="ThreadRanks"/>): the same losses,
/// weights, running statistics and random-stream states as one process running every device, bit
/// for bit. The same check over real MPI processes is the CI step tools/distributed/equivalence.sh.
/// </summary>
public sealed class DistributedTrainerTests
{
    /// <summary>GPPF with hard routing: per-unit SyncBN groups, head batch norms owned by a task's first device, four devices over 1, 2 and 3 ranks.</summary>
    [Fact]
    public void GppfHardRoutingOverRanksEqualsOneProcess()
    {
        string[] overrides = ["model.routing=hard", "steps=2", "batch=2", "size=32", "tasks.2.size=32", "tasks.3.size=32", "eval_batches=1"];
        var single = Train(SingleProcessCommunicator.Instance, "gppf", overrides);
        foreach (int ranks in new[] { 2, 3 })
        {
            var distributed = ThreadRanks.Run(ranks, world => Train(world, "gppf", overrides));
            foreach (var rank in distributed)
                AssertSame(single, rank, $"{ranks} ranks");
        }
    }

    /// <summary>The demo's three tasks (detection included) on two devices over two ranks.</summary>
    [Fact]
    public void DemoOverTwoRanksEqualsOneProcess()
    {
        string[] overrides = ["devices=2", "steps=2", "batch=2", "size=32", "tasks.1.batch=2", "eval_batches=1"];
        var single = Train(SingleProcessCommunicator.Instance, "demo", overrides);
        foreach (var rank in ThreadRanks.Run(2, world => Train(world, "demo", overrides)))
            AssertSame(single, rank, "2 ranks");
    }

    private sealed record Outcome(List<double[]> Losses, Dictionary<string, long[]> State, Dictionary<string, (ulong, ulong)> Streams);

    private static Outcome Train(ICommunicator world, string recipeName, string[] overrides)
    {
        var recipe = RecipeLoader.Load(RecipeLoader.Locate(recipeName), overrides);
        var build = RecipeCatalog.Build(recipe);
        var trainer = (build with { Options = build.Options with { Communicator = world, BucketBytes = 4096 } }).CreateTrainer();
        var losses = new List<double[]>();
        for (int s = 0; s < recipe.Steps; s++) losses.Add(trainer.RunStep().DeviceLosses.ToArray());
        var state = trainer.Model.StateDict().ToDictionary(kv => kv.Key, kv => MultiTaskTrainer.Bits(kv.Value), StringComparer.Ordinal);
        var streams = trainer.Generators.ToDictionary(kv => kv.Key, kv => kv.Value.GetState(), StringComparer.Ordinal);
        return new Outcome(losses, state, streams);
    }

    private static void AssertSame(Outcome expected, Outcome actual, string what)
    {
        for (int s = 0; s < expected.Losses.Count; s++)
            Assert.True(expected.Losses[s].SequenceEqual(actual.Losses[s]), $"{what}: step {s} losses [{string.Join(", ", actual.Losses[s])}], expected [{string.Join(", ", expected.Losses[s])}]");
        Assert.Equal(expected.State.Keys.Order(), actual.State.Keys.Order());
        foreach (var (name, bits) in expected.State)
        {
            int first = Enumerable.Range(0, bits.Length).FirstOrDefault(i => bits[i] != actual.State[name][i], -1);
            Assert.True(first < 0, $"{what}: '{name}' differs first at element {first}");
        }
        Assert.Equal(expected.Streams, actual.Streams);
    }
}
