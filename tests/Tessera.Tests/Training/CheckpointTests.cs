using Tessera.Models.Optim;
using Tessera.Models.Training;
using Xunit;
using static Tessera.Tests.Training.TrainingFixtures;

namespace Tessera.Tests.Training;

/// <summary>Checkpoints: exact resume (model, AdamW state, schedule, every random stream, step), and clear errors for bad files.</summary>
public sealed class CheckpointTests
{
    private const ulong Seed = 5;

    private static MultiTaskTrainer NewTrainer(int width = 4, long nanAtStep = -1)
    {
        var (model, _) = Build(Seed, sizeB: 12, width: width, nanAtStep: nanAtStep);
        var optimizer = new AdamW(model.Parameters(), 0.01f);
        var scheduler = new LearningRateScheduler(optimizer, Schedule.Warmup(2, Schedule.Cosine(6)));
        return new MultiTaskTrainer(model, optimizer, scheduler, new TrainerOptions(Devices: 2, Seed: Seed, EvalBatches: 1));
    }

    [Fact]
    public void ResumedRunEndsBitwiseEqualToUninterruptedRun()
    {
        string straight = TempFolder(), split = TempFolder();
        var full = NewTrainer();
        var metrics = new TrainingRun(full, "t", "{}", new RunSettings(straight, 8, CheckpointEvery: 0)).Run();
        Assert.Equal(8L, metrics["steps"]);

        new TrainingRun(NewTrainer(), "t", "{}", new RunSettings(split, 3, CheckpointEvery: 0)).Run();
        var resumed = NewTrainer();
        new TrainingRun(resumed, "t", "{}", new RunSettings(split, 8, 0, ResumeFrom: Path.Combine(split, "checkpoint.safetensors"))).Run();

        AssertBitwiseEqual(Snapshot(full.Model), Snapshot(resumed.Model));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(split, "model.safetensors")));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), RunLog.Read(Path.Combine(split, "log.jsonl")).Select(e => e.Step));
        foreach (var file in new[] { "metrics.json", "report.md", "report.html", "loss.svg", "metrics.svg", "loss.png", "metrics.png", "eval.jsonl" })
            Assert.True(File.Exists(Path.Combine(split, file)), file);
        Assert.Empty(Directory.GetFiles(split, "*.tmp*"));
    }

    [Fact]
    public void MissingCorruptAndMismatchedCheckpointsAreClearErrorsThatChangeNothing()
    {
        string folder = TempFolder();
        var trainer = NewTrainer();
        trainer.RunStep();
        string path = Path.Combine(folder, "checkpoint.safetensors");
        Checkpoint.Save(path, trainer, "{}");

        var missing = Assert.Throws<FileNotFoundException>(() => Checkpoint.Restore(Path.Combine(folder, "nope.safetensors"), NewTrainer()));
        Assert.Contains("no file", missing.Message, StringComparison.Ordinal);

        var bytes = File.ReadAllBytes(path);
        string truncated = Path.Combine(folder, "truncated.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var fresh = NewTrainer();
        var before = Snapshot(fresh.Model);
        Assert.Throws<InvalidDataException>(() => Checkpoint.Restore(truncated, fresh));
        string garbage = Path.Combine(folder, "garbage.safetensors");
        File.WriteAllText(garbage, "this is not a checkpoint at all");
        Assert.Throws<InvalidDataException>(() => Checkpoint.Restore(garbage, fresh));

        var wider = NewTrainer(width: 6);
        var widerBefore = Snapshot(wider.Model);
        var mismatch = Assert.Throws<InvalidDataException>(() => Checkpoint.Restore(path, wider));
        Assert.Contains("shape", mismatch.Message, StringComparison.Ordinal);
        Assert.Contains("different recipe", mismatch.Message, StringComparison.Ordinal);
        AssertBitwiseEqual(widerBefore, Snapshot(wider.Model));
        AssertBitwiseEqual(before, Snapshot(fresh.Model));
        Assert.Equal(0, fresh.Step);
    }

    [Fact]
    public void CheckpointIsPlainSafetensorsWithModelOptimizerAndMetadata()
    {
        string path = Path.Combine(TempFolder(), "c.safetensors");
        var trainer = NewTrainer();
        trainer.RunStep();
        Checkpoint.Save(path, trainer, "{\"name\":\"x\"}");
        var (tensors, metadata) = Tessera.Engine.Serialization.SafeTensors.Read(path);
        Assert.Contains("model.backbone.0.weight", tensors.Keys);
        Assert.Contains("model.backbone.1.running_mean", tensors.Keys);
        Assert.Contains("optimizer.0.exp_avg", tensors.Keys);
        Assert.Contains("optimizer.0.step", tensors.Keys);
        Assert.Equal("1", metadata["step"]);
        Assert.Equal("1", metadata["scheduler_step"]);
        Assert.Contains("\"data.1\"", metadata["rng"], StringComparison.Ordinal);
        Assert.Equal("{\"name\":\"x\"}", metadata["recipe"]);
    }
}
