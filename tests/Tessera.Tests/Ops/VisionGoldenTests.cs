using Tessera.Autograd;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Attention, gumbel softmax, routed combine, roi_align and box ops against tools/goldens/gen_vision.py.</summary>
public sealed class VisionGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("vision");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("vision", name);
        GoldenRunner.Run(golden, Run, ToleranceOf(golden));
    }

    /// <summary>
    /// The same cases on the PTX emulator (cuda-emu): every case is small enough to run there
    /// (the largest, sdpa_long and combine_wide, take well under a second), so none is skipped.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void OnEmulatedGpu(string name)
    {
        var golden = GoldenFile.Get("vision", name);
        GoldenRunner.Run(golden, Run, ToleranceOf(golden), null, Tessera.Engine.Device.Parse("cuda-emu"));
    }

    /// <summary>The same cases on a real GPU (skipped with the reason when there is none).</summary>
    [Tessera.Tests.Gpu.CudaTheory]
    [MemberData(nameof(Cases))]
    public void OnCuda(string name)
    {
        var golden = GoldenFile.Get("vision", name);
        GoldenRunner.Run(golden, Run, ToleranceOf(golden), null, Tessera.Engine.Device.Parse("cuda"));
    }

    private static Tolerance ToleranceOf(GoldenCase golden) => golden.Op switch
    {
        "sdpa" => new Tolerance(2e-5f, 1e-4f),
        "roi_align" or "roi_align_list" => new Tolerance(1e-5f, 1e-4f),
        "box_encode" or "box_decode" or "box_iou" => new Tolerance(1e-5f, 1e-5f),
        _ => Tolerance.Default,
    };

    private static Tensor[] Run(GoldenCase c, IReadOnlyDictionary<string, Tensor> t)
    {
        (float, float, float, float) Weights()
        {
            var w = c.Args.GetProperty("weights").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            return (w[0], w[1], w[2], w[3]);
        }
        (int, int) OutputSize() => (c.Ints("output_size")[0], c.Ints("output_size")[1]);
        return c.Op switch
        {
            "sdpa" => [F.ScaledDotProductAttention(t["q"], t["k"], t["v"], t.GetValueOrDefault("mask"), c.Bool("is_causal"),
                c.HasArg("scale") ? c.Float("scale") : null)],
            "gumbel" => [F.GumbelSoftmaxWithNoise(t["logits"], t["noise"], c.Float("tau"), c.Bool("hard"), c.Int("dim"))],
            "routed_combine" => [F.RoutedCombine(t["u"], t.Keys.Where(k => k.StartsWith('x')).Order(StringComparer.Ordinal).Select(k => t[k]).ToList())],
            "routed_combine_stacked" => [F.RoutedCombine(t["u"], t["x"])],
            "roi_align" => [F.RoiAlign(t["input"], t["boxes"], OutputSize(), c.Float("spatial_scale"), c.Int("sampling_ratio"), c.Bool("aligned"))],
            "roi_align_list" => [F.RoiAlign(t["input"], [t["boxes0"], t["boxes1"]], OutputSize(), c.Float("spatial_scale"), c.Int("sampling_ratio"), c.Bool("aligned"))],
            "box_iou" => [F.BoxIou(t["a"], t["b"])],
            "box_encode" => [new BoxCoder(Weights()).EncodeSingle(t["reference"], t["proposals"])],
            "box_decode" => [new BoxCoder(Weights()).DecodeSingle(t["codes"], t["boxes"])],
            "nms" => [F.Nms(t["boxes"], t["scores"], c.Float("iou_threshold"))],
            "batched_nms" => [F.BatchedNms(t["boxes"], t["scores"], t["idxs"], c.Float("iou_threshold"))],
            _ => throw new InvalidOperationException($"vision golden op '{c.Op}' has no runner"),
        };
    }
}
