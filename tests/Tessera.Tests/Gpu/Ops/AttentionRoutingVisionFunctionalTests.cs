using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>
/// The Functional ops of the attention, routing and vision families on cuda-emu against the same
/// calls on the CPU: random streams (same generator state → same noise), the multi-level RoIAlign
/// and bad input on the GPU path. Only these families' ops run on the device here.
/// </summary>
public class AttentionRoutingVisionFunctionalTests
{
    private static readonly Device Emu = Device.Parse("cuda-emu");

    [Fact]
    public void GumbelNoiseAndSoftmaxOnTheGpuFollowTheGeneratorLikeTheCpu()
    {
        var logits = Tensor.FromArray(GpuTestSupport.RandomFloats(6 * 5, 61, -2f, 2f), 6, 5);
        var cpuGenerator = new Generator(77);
        var gpuGenerator = new Generator(77);
        cpuGenerator.Reserve(10);
        gpuGenerator.Reserve(10);
        var cpuNoise = F.GumbelNoise([7, 3], cpuGenerator);
        var gpuNoise = F.GumbelNoise([7, 3], gpuGenerator, Emu);
        Assert.Equal(Emu, gpuNoise.Device);
        OpsAssert.Identical(cpuNoise.ToArray(), gpuNoise.ToArray(), "GumbelNoise on cuda-emu");
        Assert.Equal(cpuGenerator.GetState(), gpuGenerator.GetState());

        var cpuHard = F.GumbelSoftmax(logits, tau: 0.5f, hard: true, generator: cpuGenerator);
        var gpuHard = F.GumbelSoftmax(logits.To(Emu), tau: 0.5f, hard: true, generator: gpuGenerator);
        Assert.Equal(cpuHard.ToArray(), gpuHard.ToArray());
        var cpuSoft = F.GumbelSoftmax(logits, tau: 2f, dim: 0, generator: cpuGenerator);
        var gpuSoft = F.GumbelSoftmax(logits.To(Emu), tau: 2f, dim: 0, generator: gpuGenerator);
        OpsAssert.Close(cpuSoft.ToArray(), gpuSoft.ToArray(), 1e-6f, 2e-6f, "gumbel_softmax sample on cuda-emu");
    }

    [Fact]
    public void DropoutAndDropPathOnTheGpuDropWhatTheCpuDrops()
    {
        var x = Tensor.FromArray(GpuTestSupport.RandomFloats(5 * 4 * 3, 65), 5, 4, 3);
        var cpuGenerator = new Generator(123);
        var gpuGenerator = new Generator(123);
        var cpu = F.Dropout(x, 0.3f, generator: cpuGenerator);
        var gpu = F.Dropout(x.To(Emu), 0.3f, generator: gpuGenerator);
        OpsAssert.Identical(cpu.ToArray(), gpu.ToArray(), "dropout on cuda-emu");
        var cpuPath = F.DropPath(x, 0.5f, generator: cpuGenerator);
        var gpuPath = F.DropPath(x.To(Emu), 0.5f, generator: gpuGenerator);
        OpsAssert.Identical(cpuPath.ToArray(), gpuPath.ToArray(), "drop_path on cuda-emu");
        Assert.Equal(cpuGenerator.GetState(), gpuGenerator.GetState());
        Assert.Contains(0f, gpu.ToArray());
    }

    [Fact]
    public void MultiScaleRoiAlignOnTheGpuMatchesTheCpuPathAndPerLevelPooling()
    {
        var fine = Tensor.FromArray(GpuTestSupport.RandomFloats(2 * 3 * 12 * 16, 62), 2, 3, 12, 16);
        var coarse = Tensor.FromArray(GpuTestSupport.RandomFloats(2 * 3 * 6 * 8, 63), 2, 3, 6, 8);
        var boxes = Tensor.FromArray(new float[]
        {
            0, 4, 6, 25, 28,   1, 9, 2, 44, 36,   0, -12, -8, 20, 16,   1, 32, 24, 58, 51,   0, 30, 20, 12, 8,
        }, 5, 5);
        var levels = Tensor.FromArray(new long[] { 0, 1, 1, 0, 0 }, 5);
        float[] scales = [0.25f, 0.125f];
        var gradOutput = GpuTestSupport.RandomFloats(5 * 3 * 2 * 3, 64);

        var (cpuOut, cpuGrads) = Run(fine, coarse, boxes, levels, scales, gradOutput, Device.Cpu);
        var (gpuOut, gpuGrads) = Run(fine, coarse, boxes, levels, scales, gradOutput, Emu);
        OpsAssert.Identical(cpuOut, gpuOut, "multi_scale_roi_align forward");
        OpsAssert.Close(cpuGrads[0], gpuGrads[0], 1e-6f, 1e-5f, "multi_scale_roi_align grad of level 0");
        OpsAssert.Close(cpuGrads[1], gpuGrads[1], 1e-6f, 1e-5f, "multi_scale_roi_align grad of level 1");

        // Row 1 is pooled from the coarse level exactly as a single-level call would.
        var single = F.RoiAlign(coarse, boxes.Narrow(0, 1, 1), (2, 3), 0.125f, 2, true).ToArray();
        OpsAssert.Identical(single, cpuOut.AsSpan(18, 18).ToArray(), "row 1 against a one-level roi_align");
    }

    private static (float[] Output, float[][] Grads) Run(Tensor fine, Tensor coarse, Tensor boxes, Tensor levels, float[] scales, float[] gradOutput, Device device)
    {
        var a = fine.To(device).Detach();
        var b = coarse.To(device).Detach();
        a.RequiresGrad = true;
        b.RequiresGrad = true;
        var y = F.MultiScaleRoiAlign([a, b], boxes.To(device), levels.To(device), (2, 3), scales, samplingRatio: 2, aligned: true);
        y.Backward(Tensor.FromArray(gradOutput, 5, 3, 2, 3).To(device));
        return (y.ToArray(), [a.Grad!.ToArray(), b.Grad!.ToArray()]);
    }

    [Fact]
    public void BadInputOnTheGpuPathIsReportedBeforeAnyLaunch()
    {
        var features = Tensor.Zeros([1, 2, 4, 4], DType.Float32, Emu);
        var boxes = Tensor.FromArray(new float[] { 3, 0, 0, 2, 2 }, 1, 5).To(Emu);
        var levels = Tensor.FromArray(new long[] { 0 }, 1).To(Emu);
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => F.MultiScaleRoiAlign([features], boxes, levels, (2, 2), [1f]));
        Assert.Contains("batch index in [0, 0]", batch.Message, StringComparison.Ordinal);
        var level = Assert.Throws<ArgumentOutOfRangeException>(() =>
            F.MultiScaleRoiAlign([features], Tensor.FromArray(new float[] { 0, 0, 0, 2, 2 }, 1, 5).To(Emu), Tensor.FromArray(new long[] { 1 }, 1).To(Emu), (2, 2), [1f]));
        Assert.Contains("level in [0, 0]", level.Message, StringComparison.Ordinal);
        var wide = Tensor.Zeros([1, 1, 3, 130], DType.Float32, Emu);
        var dims = Assert.Throws<TensorShapeException>(() => F.ScaledDotProductAttention(wide, wide, wide));
        Assert.Contains("at most 128", dims.Message, StringComparison.Ordinal);
    }
}
