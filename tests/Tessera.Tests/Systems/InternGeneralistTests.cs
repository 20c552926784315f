using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Systems.Intern;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>
/// INTERN's MetaNet-lite and Up-G on tiny shapes: stage strides, exact stop-gradient of the KTM
/// inputs, zeroed KTMs reproduce hard sharing bit for bit, and branches of different depth are refused.
/// </summary>
public sealed class InternGeneralistTests
{
    private static readonly MetaNetOptions Small = new()
    {
        StemChannels = 4,
        Stages = [new(GopKind.Conv, 4), new(GopKind.Conv, 8), new(GopKind.Transformer, 8, 1, 2), new(GopKind.Transformer, 16)],
    };

    private static MetaNet Net(ulong seed, bool atrous = false, MetaNetOptions? options = null) => new((options ?? Small) with { AtrousLast = atrous }, new Generator(seed));

    private static Tensor Images(int batch = 2, int size = 32) => Tensor.Randn([batch, 3, size, size], new Generator(3));

    private static bool AllZero(Tensor? grad) => grad is null || grad.Contiguous().AsSpan<float>().ToArray().All(v => v == 0f);

    private static bool AnyNonZero(Tensor? grad) => grad is not null && grad.Contiguous().AsSpan<float>().ToArray().Any(v => v != 0f);

    private static GeneralistBackbone Generalist(bool useKtm) => new(Net(1), Net(2), Net(3, atrous: true), 8, useKtm, new Generator(9));

    private static void Randomise(Tensor weight, ulong seed)
    {
        using (GradMode.NoGrad()) weight.CopyFrom(Tensor.Randn(weight.ShapeArray, new Generator(seed)) * 0.5f);
    }

    [Fact]
    public void MetaNetExposesC2ToC5()
    {
        var maps = Net(1).ForwardFeatures(Images());
        Assert.Equal([16, 8, 4, 2], maps.Select(m => m.Size(2)).ToArray());
        Assert.Equal([4, 8, 8, 16], maps.Select(m => m.Size(1)).ToArray());
        var atrous = Net(1, atrous: true);
        Assert.Equal([2, 4, 8, 8], atrous.FeatureStrides.ToArray());
        Assert.Equal(4, atrous.ForwardFeatures(Images())[^1].Size(2));
    }

    [Fact]
    public void KtmInputsAreDetached()
    {
        var generalist = Generalist(useKtm: true);
        ulong seed = 100;
        foreach (var ktm in generalist.Ktms) Randomise(ktm.Output.Weight, seed++);
        // A loss on the image-wise branch's fused stage outputs: every KTM into it is used.
        var fused = generalist.ForwardBranches(Images())[0];
        Tensor loss = fused.Select(m => (m * m).Mean()).Aggregate((a, b) => a + b);
        loss.Backward();
        foreach (var type in new[] { TaskType.Detection, TaskType.Segmentation })
        {
            foreach (var (name, p) in generalist.Branch(type).NamedParameters())
                Assert.True(AllZero(p.Grad), $"{type} branch parameter '{name}' got a gradient from an image-wise loss through a KTM");
            for (int d = 0; d < 4; d++)
                Assert.All(generalist.Ktm(type, d)!.Parameters(), p => Assert.True(AllZero(p.Grad), $"KTM into {type} stage {d} got a gradient"));
        }
        Assert.Contains(generalist.Branch(TaskType.Classification).Parameters(), p => AnyNonZero(p.Grad));
        for (int d = 0; d < 4; d++)
            Assert.Contains(generalist.Ktm(TaskType.Classification, d)!.Parameters(), p => AnyNonZero(p.Grad));
    }

    [Fact]
    public void ZeroedKtmsEqualHardSharing()
    {
        var withKtm = Generalist(useKtm: true);
        var hard = Generalist(useKtm: false);
        // Same branches, FPN and unified outputs (made non-trivial); the KTMs' output convs at zero.
        ulong seed = 200;
        foreach (var (name, p) in hard.NamedParameters().Where(n => n.Name.StartsWith("unify.", StringComparison.Ordinal))) Randomise(p, seed++);
        withKtm.LoadStateDict(hard.StateDict(), strict: false);
        foreach (var ktm in withKtm.Ktms)
        {
            Randomise(ktm.Output.Weight, seed++);
            using (GradMode.NoGrad()) ktm.Output.Weight.Zero();
        }
        var images = Images();
        foreach (var type in new[] { TaskType.Classification, TaskType.Detection, TaskType.Segmentation })
        {
            var a = withKtm.Forward(type, images).Maps;
            var b = hard.Forward(type, images).Maps;
            Assert.Equal(b.Count, a.Count);
            for (int i = 0; i < a.Count; i++)
                Assert.Equal(b[i].Contiguous().ToArray<float>(), a[i].Contiguous().ToArray<float>());
        }
    }

    [Fact]
    public void BranchesWithDifferentStageCountsAreRefused()
    {
        var shallow = Small with { Stages = Small.Stages.Take(3).ToArray() };
        var error = Assert.Throws<ArgumentException>(() => new GeneralistBackbone(Net(1), Net(2, options: shallow), Net(3), 8, true, new Generator(9)));
        Assert.Contains("'model.stages'", error.Message);
        Assert.Contains("4", error.Message);
        Assert.Contains("found 3", error.Message);
    }
}
