using Tessera.Autograd;
using Tessera.Models.Optim;
using Tessera.Models.Training;
using Xunit;
using static Tessera.Tests.Training.TrainingFixtures;

namespace Tessera.Tests.Training;

/// <summary>
/// A non-finite loss names the step, the task and the most plausible cause: NaN in the data is
/// not a learning-rate problem; NaN already in the weights, or a pass that diverged, is. The run
/// keeps its last good checkpoint and says so.
/// </summary>
public sealed class NonFiniteDiagnosisTests
{
    private const ulong Seed = 11;

    private static MultiTaskTrainer NewTrainer(float learningRate = 0.1f, long nanAtStep = -1, int devices = 3)
    {
        var (model, _) = Build(Seed, nanAtStep: nanAtStep);
        return new MultiTaskTrainer(model, new Sgd(model.Parameters(), learningRate), null, new TrainerOptions(devices, Seed, EvalBatches: 1));
    }

    private static NonFiniteLossException RunUntilItFails(MultiTaskTrainer trainer, int steps = 30) =>
        Assert.Throws<NonFiniteLossException>(() =>
        {
            for (int s = 0; s < steps; s++) trainer.RunStep();
        });

    [Fact]
    public void NaNInTheInputsIsBlamedOnTheDataNotTheLearningRate()
    {
        var error = RunUntilItFails(NewTrainer(nanAtStep: 2));
        Assert.Contains("at step 2, task 'a'", error.Message, StringComparison.Ordinal);
        Assert.Contains("the input batch of task 'a' itself holds 512 NaN/infinite value(s) of 512", error.Message, StringComparison.Ordinal);
        Assert.Contains("not the learning rate", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("lower optimizer.lr", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, error.Step);
        Assert.Equal("a", error.Task);
    }

    [Fact]
    public void NaNAlreadyInAWeightIsNamed()
    {
        var trainer = NewTrainer();
        trainer.RunStep();
        var (name, parameter) = trainer.Model.NamedParameters().First(p => p.Name.Contains("weight", StringComparison.Ordinal));
        using (GradMode.NoGrad()) parameter.MulInPlace(float.NaN);
        var error = RunUntilItFails(trainer);
        Assert.Contains("at step 1", error.Message, StringComparison.Ordinal);
        Assert.Contains($"weight '{name}' already holds {parameter.Numel} NaN/infinite value(s)", error.Message, StringComparison.Ordinal);
        Assert.Contains("lower optimizer.lr (now 0.1)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADivergingRunIsToldToLowerTheLearningRate()
    {
        var error = RunUntilItFails(NewTrainer(learningRate: 1e25f));
        Assert.Contains("lower optimizer.lr (now 1E+25)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("input batch", error.Message, StringComparison.Ordinal);
        Assert.True(error.Step >= 1, error.Message);
    }

    [Fact]
    public void ARunThatFailsKeepsItsLastGoodCheckpointAndSaysWhichStep()
    {
        string folder = TempFolder();
        var run = new TrainingRun(NewTrainer(nanAtStep: 5, devices: 2), "t", "{}", new RunSettings(folder, 20, CheckpointEvery: 2));
        var error = Assert.Throws<NonFiniteLossException>(() => run.Run());
        long failed = error.Step;
        Assert.InRange(failed, 5, 20);
        long kept = Checkpoint.ReadStep(run.CheckpointPath);
        Assert.Equal(failed / 2 * 2, kept);
        Assert.Contains($"The last good checkpoint, '{run.CheckpointPath}' (step {kept}), is kept", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder, "model.safetensors")));

        string early = TempFolder();
        var none = Assert.Throws<NonFiniteLossException>(() => new TrainingRun(NewTrainer(nanAtStep: 2), "t", "{}", new RunSettings(early, 20, CheckpointEvery: 0)).Run());
        Assert.Contains("No checkpoint was written before step 2 (checkpoint_every = 0)", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void XLearnerSourceTrainingGivesTheSameDiagnosis()
    {
        var (model, _) = Build(Seed, nanAtStep: 1);
        var trainer = new Tessera.Models.Systems.XLearner.SourceTrainer(model, new Sgd(model.Parameters(), 0.1f), null, Seed);
        var error = Assert.Throws<NonFiniteLossException>(() => trainer.Run(4));
        Assert.Contains("source 'a' at step 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("the input batch of task 'a' itself holds", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, error.Step);
    }
}
