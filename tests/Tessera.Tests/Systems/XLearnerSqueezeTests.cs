using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Recipes;
using Tessera.Models.Systems.XLearner;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>
/// X-Learner's squeeze (the multi-hint FitNets loss against a hand computation), X-Learner_p's
/// magnitude pruning, the recipe and the experiment registration.
/// </summary>
public sealed class XLearnerSqueezeTests
{
    [Fact]
    public void SqueezeLossEqualsHandComputedValue()
    {
        // Two groups, one hinted level, a 1-channel student map [B=2, 1, 1, 2] and 1x1 guidance convs
        // of weight 2 (group 0) and 1 (group 1); BN in eval mode with running mean 0 and variance 1.
        var guidance = new GuidanceSet(["a", "b"], [1], [1], [0], new Generator(1));
        using (GradMode.NoGrad())
        {
            guidance.Layer(0, 0).Conv.Weight.CopyFrom(Tensor.FromArray(new[] { 2f }, 1, 1, 1, 1));
            guidance.Layer(1, 0).Conv.Weight.CopyFrom(Tensor.FromArray(new[] { 1f }, 1, 1, 1, 1));
        }
        guidance.Eval();
        var student = Tensor.FromArray(new[] { 1f, 2f, 3f, -1f }, 2, 1, 1, 2);
        var teacherA = Tensor.FromArray(new[] { 0f, 1f, 1f, 0f }, 2, 1, 1, 2);
        var teacherB = Tensor.Zeros(2, 1, 1, 2);
        float loss = SqueezeLoss.Compute([[teacherA], [teacherB]], [student], guidance).Item();

        double s = Math.Sqrt(1 + 1e-5);
        double groupA = (Math.Pow(2 / s - 0, 2) + Math.Pow(4 / s - 1, 2) + Math.Pow(6 / s - 1, 2) + Math.Pow(-2 / s - 0, 2)) / 2;
        double groupB = (1 + 4 + 9 + 1) / (s * s) / 2;
        Assert.True(Math.Abs(loss - (groupA + groupB)) <= 1e-5 + 1e-5 * (groupA + groupB), $"squeeze loss {loss}, expected {groupA + groupB} (|diff| {Math.Abs(loss - (groupA + groupB))})");
    }

    [Fact]
    public void SqueezeLossTrainsStudentAndGuidanceNotTeacher()
    {
        var guidance = new GuidanceSet(["a"], [2], [3], [0], new Generator(2));
        var studentWeight = Tensor.Randn([2, 3, 1, 1], new Generator(4)).RequireGrad();
        var images = Tensor.Randn([2, 3, 4, 4], new Generator(5));
        var teacher = Tensor.Randn([2, 3, 4, 4], new Generator(6)).RequireGrad();
        var studentMap = Functional.Conv2d(images, studentWeight);
        SqueezeLoss.Compute([[teacher]], [studentMap], guidance).Backward();
        Assert.Null(teacher.Grad);
        Assert.NotNull(studentWeight.Grad);
        Assert.All(guidance.Parameters(), p => Assert.NotNull(p.Grad));
    }

    [Fact]
    public void SqueezeLossRejectsMismatchedShapes()
    {
        var guidance = new GuidanceSet(["a"], [2], [3], [0], new Generator(2));
        var error = Assert.ThrowsAny<ArgumentException>(() => SqueezeLoss.Compute([[Tensor.Zeros(1, 3, 2, 2)]], [Tensor.Zeros(1, 2, 4, 4)], guidance));
        Assert.Contains("differ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PruningKeepsExactlyTheBudgetAndMasksStay()
    {
        var backbone = new ExpandedBackbone(["a", "b"], new Dictionary<string, string> { ["ta"] = "a", ["tb"] = "b" }, 3, 2, 1, ReconciliationKind.BottomUp, new Generator(3));
        long total = backbone.Parameters().Where(p => p.Rank == 4).Sum(p => (long)p.Numel);
        var pruning = new MagnitudePruning(backbone, total / 3);
        Assert.Equal(total, pruning.Total);
        Assert.Equal(pruning.FinalSparsity, pruning.SparsityAt(4, 4), 12);
        Assert.True(pruning.SparsityAt(1, 4) < pruning.SparsityAt(2, 4));
        pruning.PruneTo(pruning.FinalSparsity);
        Assert.Equal(total / 3, pruning.NonZero());
        // The survivors are the largest magnitudes.
        var weights = backbone.Parameters().Where(p => p.Rank == 4).SelectMany(p => p.ToArray<float>()).ToArray();
        float smallestKept = weights.Where(v => v != 0f).Min(MathF.Abs);
        Assert.True(weights.Count(v => v != 0f && MathF.Abs(v) < smallestKept) == 0);
        // An update that revives pruned weights is undone by Apply.
        using (GradMode.NoGrad())
            foreach (var p in backbone.Parameters().Where(p => p.Rank == 4)) p.AddInPlace(Tensor.OnesLike(p));
        pruning.Apply();
        Assert.Equal(total / 3, pruning.NonZero());
    }

    [Fact]
    public void RecipeReadsIntoSettingsAndSources()
    {
        var recipe = RecipeLoader.Load(RecipeLoader.Locate("xlearner"), ["xlearner.tau=5", "steps=10"]);
        Assert.True(XLearnerTraining.Handles(recipe));
        var (settings, sources, variant) = XLearnerTraining.Read(recipe);
        Assert.Equal("xlearner", variant);
        Assert.Equal(10, settings.ExpansionSteps);
        Assert.Equal(5, settings.Tau);
        Assert.Equal(["cls", "cls", "cls", "det"], sources.Select(s => s.Group));
        var bad = RecipeLoader.Load(RecipeLoader.Locate("xlearner"), ["xlearner.tau=50", "steps=10"]);
        Assert.ThrowsAny<ArgumentException>(() => XLearnerTraining.Read(bad));
        var badVariant = RecipeLoader.Load(RecipeLoader.Locate("xlearner"), ["xlearner.variant=nope"]);
        Assert.Contains("variant", Assert.ThrowsAny<ArgumentException>(() => XLearnerTraining.Read(badVariant)).Message, StringComparison.Ordinal);
        // Other recipes are untouched: no "xlearner" section appears in them.
        Assert.DoesNotContain("xlearner", RecipeLoader.ToJson(RecipeLoader.Load(RecipeLoader.Locate("demo"))), StringComparison.Ordinal);
    }

    [Fact]
    public void ExperimentIsRegistered()
    {
        var experiment = Tessera.Models.Experiments.ExperimentCatalog.Find("xlearner");
        Assert.IsType<XLearnerExperiment>(experiment);
    }
}
