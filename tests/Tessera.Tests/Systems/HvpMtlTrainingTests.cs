using Tessera.Autograd;
using Tessera.Models.Recipes;
using Tessera.Models.Systems.HvpMtl;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>HVP-MTL's joint step: every loss, the EMA teacher, the SimMIM decoder layout and bad input.</summary>
public sealed class HvpMtlTrainingTests
{
    /// <summary>The smallest model that exercises every part (a few ms per step).</summary>
    private static HvpMtlSettings Tiny => new()
    {
        EmbedDim = 16, Depth = 1, Heads = 2, DecoderDim = 8, Projection = 8, Prototypes = 4, Batch = 4, Steps = 3, Warmup = 1,
    };

    [Fact]
    public void OneJointStepComputesAllFourLossesAndMovesTheTeacherByExactEma()
    {
        var trainer = new HvpMtlPretrainer(Tiny);
        var teacher = trainer.Teacher!.Teacher;
        var before = teacher.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.ToArray<float>());
        using var batch = HvpViews.Batch(trainer.Source, Tiny, 0);
        var losses = trainer.Step(batch);
        Assert.All(new[] { losses.MultiLabel, losses.Contrastive, losses.Mim, losses.Momentum, losses.Total }, v => Assert.True(double.IsFinite(v), $"loss {v}"));
        Assert.True(losses.Momentum >= 0 && losses.Mim > 0 && losses.MultiLabel > 0);
        float m = Tiny.Momentum;
        var student = trainer.Model.Encoder.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.ToArray<float>());
        int moved = 0;
        foreach (var (name, parameter) in teacher.NamedParameters())
        {
            Assert.False(parameter.RequiresGrad, $"teacher {name} requires grad");
            Assert.Null(parameter.Grad);
            float[] now = parameter.ToArray<float>(), old = before[name], s = student[name];
            for (int i = 0; i < now.Length; i++)
            {
                float expected = old[i] * m + (1f - m) * s[i];
                Assert.True(Math.Abs(now[i] - expected) <= 1e-7f + 1e-6f * Math.Abs(expected), $"{name}[{i}]: {now[i]} vs m·θ' + (1 − m)·θ = {expected}");
                if (now[i] != old[i]) moved++;
            }
        }
        Assert.True(moved > 0, "the teacher did not move");
        Assert.All(trainer.Model.Encoder.Parameters(), p => Assert.True(p.RequiresGrad));
    }

    [Fact]
    public void AnAblatedLossIsNotComputedAndTheOthersStillTrain()
    {
        var trainer = new HvpMtlPretrainer(Tiny with { MimWeight = 0f, MomentumWeight = 0f });
        Assert.Null(trainer.Teacher);
        var curve = trainer.Run(null);
        Assert.Equal(3, curve.Count);
        Assert.All(curve, l => Assert.True(double.IsNaN(l.Mim) && double.IsNaN(l.Momentum) && double.IsFinite(l.MultiLabel) && double.IsFinite(l.Contrastive)));
    }

    [Fact]
    public void SameSeedSameRun()
    {
        var a = new HvpMtlPretrainer(Tiny).Run(null);
        var b = new HvpMtlPretrainer(Tiny).Run(null);
        Assert.Equal(a, b);
        var c = new HvpMtlPretrainer(Tiny with { Seed = 1 }).Run(null);
        Assert.NotEqual(a[0].Total, c[0].Total);
    }

    [Fact]
    public void SimMimDecoderPixelShufflesEachTokenIntoItsOwnPatch()
    {
        var decoder = new SimMimDecoder(4, 2, new Tessera.Engine.Random.Generator(0));
        using (GradMode.NoGrad())
        {
            decoder.Proj.Weight.Zero();
            decoder.Proj.Bias!.CopyFrom(Tensor.FromArray(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), 12));
        }
        var tokens = Tensor.Zeros([1, 6, 4]);
        var image = decoder.Forward(tokens, 2, 3).ToArray<float>(); // [1, 3, 4, 6]
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 6; x++)
                    Assert.Equal(c * 4 + (y % 2) * 2 + x % 2, image[(c * 4 + y) * 6 + x]);
    }

    public static TheoryData<string, Func<HvpMtlSettings, HvpMtlSettings>> BadSettings => new()
    {
        { "hvp.mask_ratio", s => s with { MaskRatio = 1f } },
        { "hvp.mask_ratio", s => s with { MaskRatio = -0.1f } },
        { "hvp.mask_block", s => s with { MaskBlock = 6 } },
        { "hvp.mask_block", s => s with { MaskBlock = 12 } },
        { "hvp.weights.multilabel", s => s with { MultiLabelWeight = -0.001f } },
        { "hvp.weights.momentum", s => s with { MomentumWeight = float.NaN } },
        { "hvp.prototypes", s => s with { Prototypes = 1 } },
        { "tasks.0.source", s => s with { Source = "shapes-cls" } },
        { "hvp.multilabel_loss", s => s with { MultiLabelLoss = "focal" } },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void BadSettingsNameTheRecipeField(string field, Func<HvpMtlSettings, HvpMtlSettings> change)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new HvpMtlPretrainer(change(Tiny)));
        Assert.Contains($"'{field}'", error.Message + $"'{error.ParamName}'");
        Assert.Contains("expected", error.Message);
    }

    [Fact]
    public void TheRecipeLoadsAndABadRecipeWritesNothing()
    {
        var recipe = RecipeLoader.Load(RecipeLoader.Locate("hvp-mtl"));
        var settings = HvpMtlTraining.Read(recipe);
        Assert.Equal((0.001f, 0.02f, 1f, 10f), (settings.MultiLabelWeight, settings.ContrastiveWeight, settings.MimWeight, settings.MomentumWeight));
        Assert.Equal(("weighted-asl", 0.995f, 10f), (settings.MultiLabelLoss, settings.Momentum, settings.SinkhornClamp));
        string folder = Path.Combine(Path.GetTempPath(), $"tessera-hvp-bad-{Environment.ProcessId}");
        foreach (var overrides in new[] { new[] { "hvp.mask_ratio=1.5" }, ["hvp.mask_block=6"], ["hvp.weights.mim=-1"], ["hvp.prototypes=1"], ["tasks.0.source=depth"] })
        {
            var bad = RecipeLoader.Load(RecipeLoader.Locate("hvp-mtl"), overrides);
            var error = Assert.ThrowsAny<ArgumentException>(() => HvpMtlTraining.Run(bad, folder, null));
            Assert.Contains(overrides[0].Split('=')[0], error.Message);
            Assert.False(Directory.Exists(folder), $"{overrides[0]}: the run folder was created");
        }
    }
}
