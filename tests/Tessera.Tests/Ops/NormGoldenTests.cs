using Tessera.Autograd;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Normalisation, softmax and loss ops against tools/goldens/gen_norm.py.</summary>
public sealed class NormGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("norm");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("norm", name);
        // Every op here computes in float32 with double accumulation where it reduces; observed
        // max abs diffs are below 2e-5 (log_softmax of logits of magnitude ~100), so one tolerance fits all.
        var tolerance = Tolerance.Default;
        GoldenRunner.Run(golden, Run, tolerance);
    }

    /// <summary>The same cases with inputs on the PTX emulator (the GPU kernels), same tolerance.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void OnEmulatedGpu(string name) =>
        GoldenRunner.Run(GoldenFile.Get("norm", name), Run, Tolerance.Default, null, Tessera.Engine.Device.Parse("cuda-emu"));

    /// <summary>The same cases on a real GPU (skipped with the reason when there is none).</summary>
    [Tessera.Tests.Gpu.CudaTheory]
    [MemberData(nameof(Cases))]
    public void OnCuda(string name) =>
        GoldenRunner.Run(GoldenFile.Get("norm", name), Run, Tolerance.Default, null, Tessera.Engine.Device.Parse("cuda"));

    private static Tensor[] Run(GoldenCase c, IReadOnlyDictionary<string, Tensor> t)
    {
        Tensor? Optional(string key) => t.GetValueOrDefault(key);
        return c.Op switch
        {
            "batch_norm" => BatchNorm(c, t),
            "layer_norm" => [F.LayerNorm(t["x"], c.Ints("normalized_shape"), Optional("w"), Optional("b"), c.Float("eps"))],
            "group_norm" => [F.GroupNorm(t["x"], c.Int("groups"), Optional("w"), Optional("b"), c.Float("eps"))],
            "softmax" => [F.Softmax(t["x"], c.Int("dim"))],
            "log_softmax" => [F.LogSoftmax(t["x"], c.Int("dim"))],
            "cross_entropy" => [F.CrossEntropy(t["x"], t["t"], Optional("w"), c.Int("ignore_index"), ReductionOf(c), c.Float("label_smoothing"))],
            "nll_loss" => [F.NllLoss(t["x"], t["t"], Optional("w"), c.Int("ignore_index"), ReductionOf(c))],
            "bce_logits" => [F.BinaryCrossEntropyWithLogits(t["x"], t["t"], Optional("w"), Optional("pw"), ReductionOf(c))],
            "mse_loss" => [F.MseLoss(t["x"], t["t"], ReductionOf(c))],
            "l1_loss" => [F.L1Loss(t["x"], t["t"], ReductionOf(c))],
            "smooth_l1_loss" => [F.SmoothL1Loss(t["x"], t["t"], ReductionOf(c), c.Float("beta"))],
            "kl_div" => [F.KlDiv(t["x"], t["t"], ReductionOf(c), c.Bool("log_target"))],
            "cosine_similarity" => [F.CosineSimilarity(t["a"], t["b"], c.Int("dim"), c.Float("eps"))],
            "normalize" => [F.Normalize(t["x"], c.Int("dim"), c.Float("eps"))],
            _ => throw new InvalidOperationException($"norm golden op '{c.Op}' has no runner"),
        };
    }

    private static Tensor[] BatchNorm(GoldenCase c, IReadOnlyDictionary<string, Tensor> t)
    {
        var runningMean = t.GetValueOrDefault("rm");
        var runningVar = t.GetValueOrDefault("rv");
        bool training = c.Bool("training");
        var y = F.BatchNorm(t["x"], runningMean, runningVar, t.GetValueOrDefault("w"), t.GetValueOrDefault("b"),
            training, c.Float("momentum"), c.Float("eps"));
        return training && runningMean is not null ? [y, runningMean, runningVar!] : [y];
    }

    private static Reduction ReductionOf(GoldenCase c) => c.String("reduction") switch
    {
        "mean" => Reduction.Mean,
        "sum" => Reduction.Sum,
        "none" => Reduction.None,
        "batchmean" => Reduction.BatchMean,
        var other => throw new InvalidOperationException($"unknown reduction '{other}'"),
    };
}
