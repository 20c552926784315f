using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Recipes;
using Tessera.Models.Systems.XLearner;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>
/// X-Learner's expansion stage on tiny models: the stop-gradient of the reconciliation layers is
/// exact, the alone → joint schedule is followed, w/o Rec has no gammas, and the gamma_b/gamma_a
/// (gamma_c) chains have the shapes of Eq. 2.
/// </summary>
public sealed class XLearnerExpansionTests
{
    private static readonly string[] Groups = ["a", "b"];

    private static ExpandedBackbone Tiny(ReconciliationKind kind, int width = 2) =>
        new(Groups, new Dictionary<string, string> { ["ta"] = "a", ["tb"] = "b" }, 3, width, 1, kind, new Generator(7)) { Phase = ExpansionPhase.Joint };

    private static Tensor Images(int batch = 2, int size = 16) => Tensor.Randn([batch, 3, size, size], new Generator(3));

    private static bool AllZero(Tensor? grad) => grad is null || grad.Contiguous().AsSpan<float>().ToArray().All(v => v == 0f);

    private static bool AnyNonZero(Tensor? grad) => grad is not null && grad.Contiguous().AsSpan<float>().ToArray().Any(v => v != 0f);

    [Theory]
    [InlineData(ReconciliationKind.BottomUp)]
    [InlineData(ReconciliationKind.TopDown)]
    public void StopGradientIsExact(ReconciliationKind kind)
    {
        var backbone = Tiny(kind);
        // Task a's loss: every level of F^a, so every gamma into a is used.
        var features = backbone.Forward("ta", Images());
        Tensor loss = features.Maps.Select(m => (m * m).Mean()).Aggregate((x, y) => x + y);
        loss.Backward();

        foreach (var (name, p) in backbone.Expert("b").NamedParameters())
            Assert.True(AllZero(p.Grad), $"sub-backbone E^b parameter '{name}' got a gradient from task a's loss");
        Assert.Contains(backbone.Expert("a").Parameters(), p => AnyNonZero(p.Grad));
        int intoA = 0;
        foreach (var (key, gamma) in backbone.Gammas)
        {
            bool toA = key.StartsWith("b_to_a_", StringComparison.Ordinal);
            foreach (var (name, p) in gamma.NamedParameters())
            {
                // BN biases after a conv always get a gradient; conv and BN weights of a used gamma too.
                if (toA) Assert.True(AnyNonZero(p.Grad), $"gamma {key} parameter '{name}' into task a got no gradient");
                else Assert.True(AllZero(p.Grad), $"gamma {key} parameter '{name}' into task b got a gradient from task a's loss");
            }
            if (toA) intoA++;
        }
        Assert.Equal(6, intoA);
    }

    [Fact]
    public void ExpansionScheduleIsAloneForTauStepsThenJoint()
    {
        var sources = new List<SourceSpec> { new("shapes-cls", "classification", "a", 2), new("scenes-cls", "classification", "b", 2) };
        var settings = new XLearnerSettings { Width = 2, HeadWidth = 4, Size = 32, ExpansionSteps = 4, Tau = 2, SqueezeSteps = 1, Warmup = 0 };
        var (backbone, model) = XLearnerStages.CreateExpanded(sources, settings, ReconciliationKind.BottomUp, settings.Width);
        var phases = new List<ExpansionPhase>();
        var gammaTouched = new List<bool>();
        var gammaAllUpdated = new List<bool>();
        var expertsUpdated = new List<bool>();
        var curve = XLearnerStages.Expand(backbone, model, settings, null, step =>
        {
            phases.Add(backbone.Phase);
            gammaTouched.Add(backbone.Gammas.Any(g => g.Value.Parameters().Any(p => p.Grad is not null)));
            gammaAllUpdated.Add(backbone.Gammas.All(g => g.Value.Parameters().All(p => AnyNonZero(p.Grad))));
            expertsUpdated.Add(Groups.All(g => backbone.Expert(g).Parameters().Any(p => AnyNonZero(p.Grad))));
        });
        Assert.Equal([ExpansionPhase.Alone, ExpansionPhase.Alone, ExpansionPhase.Joint, ExpansionPhase.Joint], phases);
        Assert.Equal([false, false, true, true], gammaTouched);
        Assert.Equal([false, false, true, true], gammaAllUpdated);
        Assert.All(expertsUpdated, Assert.True);
        Assert.Equal([0L, 1L, 2L, 3L], curve.Select(p => p.Step));
        Assert.All(curve, p => Assert.True(double.IsFinite(p.Loss)));
    }

    [Fact]
    public void AloneStepsTrainEachSubBackboneOnlyOnItsOwnSources()
    {
        var backbone = Tiny(ReconciliationKind.BottomUp);
        backbone.Phase = ExpansionPhase.Alone;
        var loss = backbone.Forward("tb", Images()).Final.Mean();
        loss.Backward();
        Assert.All(backbone.Expert("a").Parameters(), p => Assert.Null(p.Grad));
        Assert.All(backbone.Gammas.SelectMany(g => g.Value.Parameters()), p => Assert.Null(p.Grad));
        Assert.Contains(backbone.Expert("b").Parameters(), p => AnyNonZero(p.Grad));
    }

    [Fact]
    public void WithoutRecHasNoGammaParameters()
    {
        var backbone = Tiny(ReconciliationKind.None);
        Assert.Empty(backbone.Gammas);
        Assert.DoesNotContain(backbone.NamedParameters(), p => p.Name.Contains("gamma", StringComparison.Ordinal));
        Assert.DoesNotContain(backbone.StateDict().Keys, k => k.Contains("gamma", StringComparison.Ordinal));
        Assert.Equal(2 * backbone.Expert("a").ParameterCount(), backbone.ParameterCount());
        // Joint phase without gammas: F^t is the sub-backbone's own output.
        var images = Images();
        using var noGrad = GradMode.NoGrad();
        backbone.Eval();
        var joint = backbone.Forward("ta", images).Final.ToArray<float>();
        var alone = backbone.Expert("a").ForwardFeatures(images)[^1].ToArray<float>();
        Assert.Equal(alone, joint);
    }

    [Fact]
    public void BottomUpGammaChainsHaveOneGammaBAndIMinusJGammaA()
    {
        const int width = 3;
        var backbone = Tiny(ReconciliationKind.BottomUp, width);
        int[] channels = [width, 2 * width, 4 * width];
        Assert.Equal(2 * 6, backbone.Gammas.Count());
        var images = Images(2, 32);
        using var noGrad = GradMode.NoGrad();
        var maps = backbone.Expert("b").ForwardFeatures(images);
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                var gamma = backbone.Gamma("b", "a", j, i);
                if (j > i)
                {
                    Assert.Null(gamma);
                    continue;
                }
                Assert.NotNull(gamma);
                Assert.Equal([channels[j], channels[j], 1, 1], gamma.B.Conv.Weight.ShapeArray);
                Assert.Equal(i - j, gamma.Steps.Count);
                for (int m = 0; m < gamma.Steps.Count; m++)
                {
                    var step = Assert.IsType<GammaA>(gamma.Steps[m]);
                    Assert.Equal([channels[j + m + 1], channels[j + m], 3, 3], step.Conv.Weight.ShapeArray);
                    Assert.Equal(2, step.Conv.Stride);
                }
                Assert.Equal(maps[i].ShapeArray, gamma.Forward(maps[j]).ShapeArray);
            }
        }
    }

    [Fact]
    public void TopDownGammaChainsUpsampleFromDeeperLayers()
    {
        const int width = 3;
        var backbone = Tiny(ReconciliationKind.TopDown, width);
        int[] channels = [width, 2 * width, 4 * width];
        var images = Images(2, 32);
        using var noGrad = GradMode.NoGrad();
        var maps = backbone.Expert("a").ForwardFeatures(images);
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                var gamma = backbone.Gamma("a", "b", j, i);
                if (j < i)
                {
                    Assert.Null(gamma);
                    continue;
                }
                Assert.NotNull(gamma);
                Assert.Equal(j - i, gamma.Steps.Count);
                for (int m = 0; m < gamma.Steps.Count; m++)
                    Assert.Equal([channels[j - m - 1], channels[j - m], 3, 3], Assert.IsType<GammaC>(gamma.Steps[m]).Conv.Weight.ShapeArray);
                Assert.Equal(maps[i].ShapeArray, gamma.Forward(maps[j]).ShapeArray);
            }
        }
    }

    [Fact]
    public void ReconciliationConvsUseGlorotInitialisation()
    {
        var gamma = Tiny(ReconciliationKind.BottomUp, 4).Gamma("a", "b", 0, 2)!;
        var conv = ((GammaA)gamma.Steps[1]).Conv.Weight; // 8 → 16 channels, 3x3
        float bound = MathF.Sqrt(6f / ((8 + 16) * 9));
        var values = conv.ToArray<float>();
        Assert.All(values, v => Assert.InRange(v, -bound, bound));
        Assert.True(values.Max() > 0.8f * bound && values.Min() < -0.8f * bound, "Glorot-uniform weights should fill their range");
    }

    [Fact]
    public void UnknownTaskAndBadGroupsAreClearErrors()
    {
        var backbone = Tiny(ReconciliationKind.BottomUp);
        var error = Assert.Throws<ArgumentException>(() => backbone.Forward("nope", Images()));
        Assert.Contains("nope", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ExpandedBackbone(["a", "a"], new Dictionary<string, string>(), 3, 2, 1, ReconciliationKind.BottomUp, new Generator(1)));
        Assert.Throws<ArgumentException>(() => new ExpandedBackbone(["a"], new Dictionary<string, string> { ["t"] = "z" }, 3, 2, 1, ReconciliationKind.BottomUp, new Generator(1)));
    }
}
