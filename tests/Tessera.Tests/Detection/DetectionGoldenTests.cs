using Tessera.Autograd;
using Tessera.Models.Detection;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Detection;

/// <summary>Anchors, Matcher and fastrcnn_loss against torchvision 0.14 (tools/goldens/gen_detection.py).</summary>
public sealed class DetectionGoldenTests
{
    public static TheoryData<string> AnchorCases => GoldenFile.CaseNames("detection", "anchors");
    public static TheoryData<string> MatcherCases => GoldenFile.CaseNames("detection", "matcher");
    public static TheoryData<string> LossCases => GoldenFile.CaseNames("detection", "fastrcnn_loss");

    [Theory]
    [MemberData(nameof(AnchorCases))]
    public void AnchorsMatchTorchvision(string name)
    {
        var golden = GoldenFile.Get("detection", name);
        float[][] Lists(string key) => golden.Args.GetProperty(key).EnumerateArray().Select(l => l.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var generator = new AnchorGenerator(Lists("sizes"), Lists("ratios"));
        int[] image = golden.Ints("image");
        var features = golden.Args.GetProperty("features").EnumerateArray().Select(f => (f[0].GetInt32(), f[1].GetInt32())).ToList();
        var anchors = generator.Anchors(features, (image[0], image[1]));
        GoldenRunner.AssertClose(anchors, golden.Tensor("out.y"), new Tolerance(0f, 0f), $"{golden} out.y");
    }

    [Theory]
    [MemberData(nameof(MatcherCases))]
    public void MatcherMatchesTorchvision(string name)
    {
        var golden = GoldenFile.Get("detection", name);
        var matcher = new Matcher(golden.Float("high"), golden.Float("low"), golden.Bool("low_quality"));
        var matches = matcher.Match(golden.Tensor("in.quality"));
        Assert.Equal(golden.Tensor("out.y").ToArray<long>(), matches.Select(m => (long)m).ToArray());
        Assert.Contains(matches, m => m >= 0);
        Assert.Contains(matches, m => m < 0);
    }

    [Theory]
    [MemberData(nameof(LossCases))]
    public void FastRcnnLossMatchesTorchvision(string name)
    {
        var golden = GoldenFile.Get("detection", name);
        GoldenRunner.Run(golden, (_, t) =>
        {
            var losses = RoiHeads.FastRcnnLoss(t["class_logits"], t["box_regression"], t["labels"].ToArray<long>(), t["regression_targets"].ToArray());
            return [losses["loss_classifier"], losses["loss_box_reg"]];
        }, Tolerance.Default);
    }

    [Fact]
    public void FixtureHasEveryComponent()
    {
        Assert.Equal(2, AnchorCases.Count);
        Assert.Equal(4, MatcherCases.Count);
        Assert.Equal(3, LossCases.Count);
    }
}
