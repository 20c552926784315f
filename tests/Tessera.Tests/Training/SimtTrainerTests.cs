using Tessera.Autograd;
using Tessera.Models.Optim;
using Tessera.Models.Training;
using Xunit;
using static Tessera.Tests.Training.TrainingFixtures;

namespace Tessera.Tests.Training;

/// <summary>SIMT: per-device tasks and sizes, cross-task SyncBN, per-parameter device averaging, determinism, NaN policies.</summary>
public sealed class SimtTrainerTests
{
    private const ulong Seed = 11;
    private const int Devices = 3;

    /// <summary>
    /// One SIMT step with SGD(lr = 1) equals a reference built without the trainer: batch norm
    /// over the concatenation of all devices' batches (what SyncBN must reproduce), backbone
    /// gradient = mean over all devices' losses, head t gradient = mean over the devices that ran t,
    /// an unsampled head untouched, running statistics updated once with the joint statistics.
    /// </summary>
    [Fact]
    public void StepMatchesJointBatchNormReferenceWithPerParameterAverages()
    {
        var (model, sources) = Build(Seed);
        var before = Snapshot(model);
        var trainer = new MultiTaskTrainer(model, new Sgd(model.Parameters(), 1f), null, new TrainerOptions(Devices, Seed));
        var step = trainer.RunStep();
        Assert.Contains("a", step.DeviceTasks);
        Assert.Contains("b", step.DeviceTasks);
        Assert.DoesNotContain("c", step.DeviceTasks);

        var (reference, _) = Build(Seed);
        var batches = Enumerable.Range(0, Devices).Select(d =>
        {
            var source = sources.Single(s => s.Name == step.DeviceTasks[d]);
            return source.Seen[(MultiTaskTrainer.Mix(Seed, 2, d), 0)];
        }).ToList();
        var features = reference.Backbone.Forward("any", Concat(batches.Select(b => b.Inputs).ToList())).Final;
        var losses = new List<Tensor>();
        int row = 0;
        for (int d = 0; d < Devices; d++)
        {
            var task = reference.Task(step.DeviceTasks[d]);
            var part = new Features(Rows(features, row, batches[d].BatchSize));
            losses.Add(task.Head.Forward(part, batches[d]).Loss);
            row += batches[d].BatchSize;
        }
        var expected = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var backboneParameters = reference.Backbone.Module.NamedParameters("backbone").ToList();
        var meanLoss = losses.Aggregate((x, y) => x + y) * (1f / Devices);
        var backboneGrads = AutogradEngine.Grad(meanLoss, backboneParameters.Select(p => p.Parameter).ToList());
        for (int i = 0; i < backboneParameters.Count; i++)
            expected[backboneParameters[i].Name] = (backboneParameters[i].Parameter - backboneGrads[i]!).ToArray<float>();
        foreach (var task in step.DeviceTasks.Distinct())
        {
            var users = Enumerable.Range(0, Devices).Where(d => step.DeviceTasks[d] == task).ToList();
            var taskLoss = users.Select(d => losses[d]).Aggregate((x, y) => x + y) * (1f / users.Count);
            var head = reference.Task(task).Head.Module.NamedParameters($"heads.{task}").ToList();
            var grads = AutogradEngine.Grad(taskLoss, head.Select(p => p.Parameter).ToList());
            for (int i = 0; i < head.Count; i++) expected[head[i].Name] = (head[i].Parameter - grads[i]!).ToArray<float>();
        }
        foreach (var (name, buffer) in reference.NamedBuffers()) expected[name] = buffer.ToFloat().ToArray();

        var actual = Snapshot(model);
        foreach (var (name, values) in expected)
        {
            var got = actual[name];
            double maxDiff = values.Zip(got, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(maxDiff <= 1e-5, $"'{name}': max abs diff {maxDiff:g3} from the joint reference");
            // A conv bias feeding batch norm has an exactly-zero gradient (the normalisation removes
            // it); every other tensor must move, or the comparison above proves nothing.
            if (!name.EndsWith(".0.bias", StringComparison.Ordinal))
                Assert.False(values.SequenceEqual(before[name]), $"'{name}' did not change");
        }
        foreach (var name in actual.Keys.Where(k => k.StartsWith("heads.c.", StringComparison.Ordinal)))
            Assert.Equal(before[name], actual[name]);
    }

    [Fact]
    public void DifferentInputSizesPerDeviceRunAndTwoRunsAreBitwiseEqual()
    {
        Dictionary<string, float[]> Train()
        {
            var (model, _) = Build(Seed, sizeB: 12);
            var trainer = new MultiTaskTrainer(model, new AdamW(model.Parameters(), 0.01f), null, new TrainerOptions(Devices, Seed));
            var tasks = new HashSet<string>();
            for (int s = 0; s < 4; s++) tasks.UnionWith(trainer.RunStep().DeviceTasks);
            Assert.Equal(["a", "b"], tasks.Order());
            return Snapshot(model);
        }
        AssertBitwiseEqual(Train(), Train());
    }

    /// <summary>V = 1 with one task is plain training: bitwise the same as a hand-written loop (forward, Backward, Step).</summary>
    [Fact]
    public void OneDeviceOneTaskEqualsAPlainTrainingLoop()
    {
        var (model, _) = Build(Seed);
        var single = new MultiTaskModel(model.Backbone, [model.Task("a") with { SamplingWeight = 1 }]);
        var trainer = new MultiTaskTrainer(single, new Sgd(single.Parameters(), 0.1f, momentum: 0.9f), null, new TrainerOptions(1, Seed));
        var (plain, sources) = Build(Seed);
        var plainSingle = new MultiTaskModel(plain.Backbone, [plain.Task("a")]);
        var optimizer = new Sgd(plainSingle.Parameters(), 0.1f, momentum: 0.9f);
        var generator = new Tessera.Engine.Random.Generator(MultiTaskTrainer.Mix(Seed, 2, 0));
        for (int s = 0; s < 3; s++)
        {
            trainer.RunStep();
            using var scope = new TensorScope();
            var batch = sources[0].Sample(Tessera.Models.Training.DataSplit.Train, s, 4, 8, generator);
            optimizer.ZeroGrad();
            plainSingle.Forward("a", batch).Loss.Backward();
            optimizer.Step();
        }
        AssertBitwiseEqual(Snapshot(plainSingle), Snapshot(single));
    }

    [Fact]
    public void DevicesGiveTheSameBitsWithSerialOrParallelKernels()
    {
        Dictionary<string, float[]> Train(bool serial)
        {
            var (model, _) = Build(Seed, sizeB: 12, width: 8);
            var trainer = new MultiTaskTrainer(model, new Sgd(model.Parameters(), 0.1f), null, new TrainerOptions(Devices, Seed, SerialDevices: serial));
            for (int s = 0; s < 2; s++) trainer.RunStep();
            return Snapshot(model);
        }
        AssertBitwiseEqual(Train(true), Train(false));
    }

    [Fact]
    public void NonFiniteLossStopsNamingStepTaskAndDevice()
    {
        var (model, _) = Build(Seed, nanAtStep: 2);
        var trainer = new MultiTaskTrainer(model, new Sgd(model.Parameters(), 0.1f), null, new TrainerOptions(Devices, Seed));
        var error = Assert.Throws<NonFiniteLossException>(() =>
        {
            for (int s = 0; s < 6; s++) trainer.RunStep();
        });
        Assert.Contains("at step 2, task 'a', device", error.Message, StringComparison.Ordinal);
        Assert.Contains("nonfinite=skip", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonFiniteLossIsSkippedLeavingWeightsAndStatisticsUntouched()
    {
        var (model, _) = Build(Seed, nanAtStep: 2);
        var trainer = new MultiTaskTrainer(model, new Sgd(model.Parameters(), 0.1f, momentum: 0.9f), null, new TrainerOptions(Devices, Seed, NonFinitePolicy.Skip));
        trainer.RunStep();
        trainer.RunStep();
        var beforeBadStep = Snapshot(model);
        var bad = trainer.RunStep();
        Assert.NotNull(bad.Skipped);
        Assert.Contains("task 'a'", bad.Skipped, StringComparison.Ordinal);
        AssertBitwiseEqual(beforeBadStep, Snapshot(model));
        var good = trainer.RunStep();
        Assert.Null(good.Skipped);
        Assert.All(Snapshot(model).Values.SelectMany(v => v), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(4, trainer.Step);
    }

    [Fact]
    public void DeviceSkippingABatchNormLayerFailsFastInsteadOfHanging()
    {
        var (model, _) = Build(Seed, useBatchNorm: task => task == "a");
        var trainer = new MultiTaskTrainer(model, new Sgd(model.Parameters(), 0.1f), null, new TrainerOptions(Devices, Seed));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = Assert.Throws<InvalidOperationException>(() => trainer.RunStep());
        Assert.Contains("SyncBN", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed.TotalSeconds < 10, $"took {clock.Elapsed.TotalSeconds:F1} s");
    }
}
