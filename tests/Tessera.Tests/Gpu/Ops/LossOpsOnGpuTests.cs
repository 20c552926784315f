using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The losses as Functional ops on cuda-emu (fused kernels) against the CPU ops: values and gradients.</summary>
public sealed class LossOpsOnGpuTests
{
    private static readonly Device Emu = Device.Parse("cuda-emu");

    public static TheoryData<string, Reduction> Cases()
    {
        var data = new TheoryData<string, Reduction>();
        foreach (string loss in new[] { "mse", "l1", "smooth_l1", "smooth_l1_beta0", "bce", "kl", "kl_log" })
            foreach (var reduction in new[] { Reduction.None, Reduction.Mean, Reduction.Sum })
                data.Add(loss, reduction);
        data.Add("kl", Reduction.BatchMean);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PointwiseLossMatchesCpu(string loss, Reduction reduction)
    {
        int[] shape = [4, 9];
        float[] x = Tensor.Randn(shape, new Generator(1)).ToArray();
        float[] t = loss is "bce" or "kl" ? Tensor.Rand(shape, new Generator(2)).ToArray() : Tensor.Randn(shape, new Generator(2)).ToArray();
        Tensor[] Run(Device device)
        {
            var input = Tensor.FromArray(x, shape).To(device).RequireGrad();
            var target = Tensor.FromArray(t, shape).To(device).RequireGrad();
            var y = loss switch
            {
                "mse" => F.MseLoss(input, target, reduction),
                "l1" => F.L1Loss(input, target, reduction),
                "smooth_l1" => F.SmoothL1Loss(input, target, reduction, beta: 0.7f),
                "smooth_l1_beta0" => F.SmoothL1Loss(input, target, reduction, beta: 0f),
                "bce" => F.BinaryCrossEntropyWithLogits(input, target, reduction: reduction),
                "kl" => F.KlDiv(input, target, reduction),
                _ => F.KlDiv(input, target, reduction, logTarget: true),
            };
            y.Backward(Tensor.Randn(y.Shape, new Generator(3)).To(device));
            return [y, input.Grad!, target.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Emu, gpu[i].Device);
            Assert.Equal(cpu[i].ShapeArray, gpu[i].ShapeArray);
            GpuTestSupport.AssertClose(cpu[i].ToArray(), gpu[i].ToArray(), 2e-6f, 2e-6f, $"{loss} {reduction} {(i == 0 ? "value" : i == 1 ? "grad input" : "grad target")}");
        }
    }

    [Theory]
    [InlineData(Reduction.Mean, 0f, false, false)]
    [InlineData(Reduction.Sum, 0.1f, true, false)]
    [InlineData(Reduction.None, 0.2f, true, true)]
    [InlineData(Reduction.Mean, 0.05f, false, true)]
    public void CrossEntropyMatchesCpu(Reduction reduction, float smoothing, bool weighted, bool spatial)
    {
        int[] shape = spatial ? [2, 5, 3] : [7, 5];
        int[] targetShape = spatial ? [2, 3] : [7];
        float[] logits = Tensor.Randn(shape, new Generator(4)).ToArray();
        long[] target = Enumerable.Range(0, targetShape.Aggregate(1, (p, d) => p * d)).Select(i => i % 4 == 1 ? -1L : (long)(i * 2 % 5)).ToArray();
        float[] weight = Tensor.Rand([5], new Generator(5)).ToArray();
        Tensor[] Run(Device device)
        {
            var input = Tensor.FromArray(logits, shape).To(device).RequireGrad();
            var y = F.CrossEntropy(input, Tensor.FromArray(target, targetShape).To(device), weighted ? Tensor.FromArray(weight).To(device) : null,
                ignoreIndex: -1, reduction, smoothing);
            y.Backward(Tensor.Randn(y.Shape, new Generator(6)).To(device));
            return [y, input.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        GpuTestSupport.AssertClose(cpu[0].ToArray(), gpu[0].ToArray(), 2e-6f, 2e-6f, "cross_entropy value");
        GpuTestSupport.AssertClose(cpu[1].ToArray(), gpu[1].ToArray(), 2e-6f, 2e-6f, "cross_entropy grad");
        Assert.Equal(cpu[0].ShapeArray, gpu[0].ShapeArray);
    }

    [Fact]
    public void NllLossPerPositionMatchesCpu()
    {
        float[] logProbs = Tensor.Randn([3, 4, 2], new Generator(7)).ToArray();
        long[] target = [0, 3, -100, 2, 1, 1];
        float[] weight = [0.5f, 1f, 2f, 1.5f];
        Tensor[] Run(Device device)
        {
            var input = Tensor.FromArray(logProbs, 3, 4, 2).To(device).RequireGrad();
            var y = F.NllLoss(input, Tensor.FromArray(target, 3, 2).To(device), Tensor.FromArray(weight).To(device), reduction: Reduction.None);
            y.Backward(Tensor.Randn([3, 2], new Generator(8)).To(device));
            return [y, input.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        Assert.Equal(cpu[0].ToArray(), gpu[0].ToArray());
        Assert.Equal(cpu[1].ToArray(), gpu[1].ToArray());
    }

    [Fact]
    public void BadClassIndexOnTheDeviceIsReportedWithItsPosition()
    {
        var logits = Tensor.Randn([4, 3], new Generator(9)).To(Emu);
        var target = Tensor.FromArray(new long[] { 0, 2, 5, -7 }).To(Emu);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(logits, target));
        Assert.Contains("found 5 at flat position 2", error.Message, StringComparison.Ordinal);
        Assert.Throws<TensorDeviceException>(() => F.CrossEntropy(logits, Tensor.FromArray(new long[] { 0, 1, 2, 0 })));
    }
}
