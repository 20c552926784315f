using Tessera.Autograd;
using Tessera.Models.Objectives;
using Tessera.Models.Systems.Eva;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Systems;

/// <summary>
/// EVA's objectives against PyTorch (tools/goldens/gen_eva.py): the CLIP loss with a learnable,
/// clamped logit scale through the shared <see cref="ContrastiveLoss"/> and
/// <see cref="LearnableLogitScale"/> (gradients to both feature sets and to the log scale, zero
/// above the clamp); the masked negative-cosine loss (<see cref="FeatureLosses.NegativeCosine"/>);
/// and the zero-shot classifier built from prompt embeddings (<see cref="ZeroShot"/>).
/// </summary>
public sealed class EvaGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("eva");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("eva", name);
        switch (golden.Op)
        {
            case "clip_loss":
                GoldenRunner.Run(golden, (_, inputs) =>
                [
                    ContrastiveLoss.InfoNce(F.Normalize(inputs["img"], dim: -1), F.Normalize(inputs["txt"], dim: -1), LearnableLogitScale.ScaleOf(inputs["log_scale"])),
                ], new Tolerance(1e-5f, 1e-5f), new Tolerance(1e-5f, 1e-4f));
                break;
            case "neg_cosine":
                GoldenRunner.Run(golden, (_, inputs) =>
                [
                    FeatureLosses.NegativeCosine(inputs["pred"], inputs["target"], inputs.GetValueOrDefault("mask")),
                ], new Tolerance(1e-6f, 1e-5f), new Tolerance(1e-6f, 1e-4f));
                break;
            case "zero_shot":
                GoldenRunner.Run(golden, (g, inputs) =>
                {
                    var weights = ZeroShot.ClassifierWeights(inputs["text"]);
                    return [weights, ZeroShot.Logits(inputs["image"], weights, Tensor.Scalar(g.Float("scale")))];
                }, new Tolerance(1e-5f, 1e-5f));
                break;
            default:
                throw new InvalidOperationException($"eva golden: unknown op '{golden.Op}' in case {name}");
        }
    }

    [Fact]
    public void TheClampedCaseReallyClampsAndGetsNoScaleGradient()
    {
        // The generator's third CLIP case starts above ln 100: its log-scale gradient must be exactly 0.
        var golden = GoldenFile.Get("eva", "clip_loss_2");
        Assert.True(golden.Bool("clamped"));
        Assert.Equal(0f, golden.Tensor("grad.log_scale").ToArray()[0]);
        var logScale = golden.Tensor("in.log_scale").RequireGrad();
        ContrastiveLoss.InfoNce(F.Normalize(golden.Tensor("in.img"), dim: -1), F.Normalize(golden.Tensor("in.txt"), dim: -1), LearnableLogitScale.ScaleOf(logScale)).Backward();
        Assert.Equal(0f, logScale.Grad!.ToArray()[0]);
    }
}
