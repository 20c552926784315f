using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Objectives;
using Tessera.Models.Systems.HvpMtl;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>HVP-MTL's objectives and Query2Label decoder against PyTorch (tools/goldens/gen_hvpmtl.py).</summary>
public sealed class HvpMtlGoldenTests
{
    private static readonly Tolerance Losses = new(1e-5f, 1e-4f);

    public static TheoryData<string> AslCases => GoldenFile.CaseNames("hvpmtl", "asl");

    [Theory]
    [MemberData(nameof(AslCases))]
    public void AsymmetricLossMatchesTorch(string name)
    {
        var golden = GoldenFile.Get("hvpmtl", name);
        var settings = new AsymmetricLossSettings(golden.Float("eta"), golden.Float("gamma_pos"), golden.Float("gamma_neg"), golden.Float("margin"));
        GoldenRunner.Run(golden, (_, x) => [AsymmetricLoss.Compute(x["logits"], x["targets"], settings)], Losses);
    }

    [Theory]
    [InlineData("sinkhorn_clamped")]
    [InlineData("sinkhorn_unclamped")]
    public void SinkhornKnoppWithTheClampMatchesTorch(string name)
    {
        var golden = GoldenFile.Get("hvpmtl", name);
        GoldenRunner.Run(golden, (g, x) => [SwavLoss.SinkhornKnopp(x["scores"], g.Float("epsilon"), g.Int("iterations"), g.Float("clamp"))], Losses);
    }

    [Fact]
    public void SwappedPredictionMatchesTorch()
    {
        var golden = GoldenFile.Get("hvpmtl", "swapped");
        GoldenRunner.Run(golden, (g, x) => [SwavLoss.Swapped(x["scores_t"], x["scores_s"], g.Float("temperature"), g.Float("epsilon"), g.Int("iterations"), g.Float("clamp"))], Losses);
    }

    [Fact]
    public void SimMimMaskedL1MatchesTorch()
    {
        var golden = GoldenFile.Get("hvpmtl", "simmim_l1");
        GoldenRunner.Run(golden, (g, x) => [SimMimLoss.MaskedL1(x["reconstruction"], x["images"], SimMimLoss.PixelMask(x["patch_mask"], 2, 2, g.Int("patch")))], Losses);
    }

    [Fact]
    public void SymmetricKlOfMomentumDistillationMatchesTorch()
    {
        var golden = GoldenFile.Get("hvpmtl", "sym_kl");
        float tau = golden.Float("temperature");
        GoldenRunner.Run(golden, (_, x) =>
        [
            MomentumDistillation.SymmetricKl(MomentumDistillation.Similarities(x["g"], x["q0"], tau), MomentumDistillation.Similarities(x["g_t"], x["q0_t"], tau)),
        ], Losses);
    }

    [Fact]
    public void Query2LabelDecoderForwardAndBackwardMatchTorch()
    {
        var golden = GoldenFile.Get("hvpmtl", "query2label");
        var head = new Query2LabelHead(golden.Int("in_channels"), golden.Int("classes"), golden.Int("dim"), golden.Int("layers"), golden.Int("heads"), new Generator(1));
        var parameters = head.NamedParameters().ToList();
        Assert.Equal(golden.Keys("in.").Where(k => k != "tokens").Order(StringComparer.Ordinal), parameters.Select(p => p.Name).Order(StringComparer.Ordinal));
        using (GradMode.NoGrad())
            foreach (var (name, parameter) in parameters) parameter.CopyFrom(golden.Tensor("in." + name));
        var tokens = golden.Tensor("in.tokens");
        tokens.RequiresGrad = true;
        var output = head.Forward(tokens);
        GoldenRunner.AssertClose(output.Logits, golden.Tensor("out.y0"), Tolerance.Loose, "query2label logits");
        GoldenRunner.AssertClose(output.States, golden.Tensor("out.y1"), Tolerance.Loose, "query2label states");
        var total = Functional.Sum(output.Logits * golden.Tensor("gout.y0")) + Functional.Sum(output.States * golden.Tensor("gout.y1"));
        total.Backward();
        GoldenRunner.AssertClose(tokens.Grad!, golden.Tensor("grad.tokens"), Tolerance.Loose, "query2label grad.tokens");
        foreach (var (name, parameter) in parameters)
            GoldenRunner.AssertClose(parameter.Grad!, golden.Tensor("grad." + name), Tolerance.Loose, $"query2label grad.{name}");
    }
}
