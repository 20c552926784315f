using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Systems.Intern;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>INTERN's multi-stage fine-tuning pieces: the VQ-GAN quantiser against PyTorch (tools/goldens/gen_intern_mf.py), and a VQ-GAN that learns.</summary>
public sealed class InternMultiStageGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("intern_mf");

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuantiserMatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("intern_mf", name);
        GoldenRunner.Run(golden, (_, x) =>
        {
            var q = VectorQuantizer.Quantize(x["z"], x["codebook"]);
            return [q.StraightThrough, q.CodebookLoss, q.CommitmentLoss, q.Indices];
        }, new Tolerance(1e-5f, 1e-4f));
    }

    [Fact]
    public void VqGanReconstructionImprovesWithTraining()
    {
        var generator = new Generator(11);
        var images = Tensor.Rand([4, 3, 16, 16], new Generator(12));
        var model = new VqGanLite(channels: 8, codeDim: 4, codebookSize: 8, generator: generator);
        var curve = model.Train(_ => images, steps: 30, learningRate: 5e-3f);
        Assert.True(curve[^1] < curve[0] * 0.8, $"L1 should fall by 20%: {curve[0]:F4} -> {curve[^1]:F4}");
        var reconstruction = model.Reconstruct(images);
        Assert.Equal(images.Shape.ToArray(), reconstruction.Shape.ToArray());
        Assert.False(reconstruction.RequiresGrad);
        Assert.Throws<Tessera.Engine.TensorShapeException>(() => model.Encode(Tensor.Zeros([1, 3, 10, 10])));
    }
}
