using Tessera.Autograd;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The loss kernels on the emulator against the CPU ops (values and both gradients), tiny shapes.</summary>
public sealed class LossKernelTests
{
    private static PtxEmulatorDriver Driver() => new(new PtxEmulatorOptions { ShuffleSeed = 13 });

    public static TheoryData<string, string> PointwiseCases()
    {
        var data = new TheoryData<string, string>();
        foreach (string loss in new[] { "mse", "l1", "smooth_l1", "bce", "kl", "kl_log" })
            foreach (string reduction in new[] { "none", "mean", "sum" })
                data.Add(loss, reduction);
        data.Add("kl", "batchmean");
        return data;
    }

    [Theory]
    [MemberData(nameof(PointwiseCases))]
    public void PointwiseLossMatchesCpu(string loss, string reductionName)
    {
        const int rows = 7, columns = 11;
        int count = rows * columns;
        float[] x = GpuTestSupport.RandomFloats(count, 21, -2f, 2f);
        float[] t = loss switch
        {
            "bce" or "kl" => GpuTestSupport.RandomFloats(count, 22, 0f, 1f),
            _ => GpuTestSupport.RandomFloats(count, 22, -2f, 2f),
        };
        // Edges: a tie (d = 0), |d| = beta for smooth L1, a zero target for KL.
        t[3] = x[3];
        x[5] = t[5] + 0.5f;
        if (loss == "kl") t[8] = 0f;
        Reduction reduction = reductionName switch { "none" => Reduction.None, "sum" => Reduction.Sum, "batchmean" => Reduction.BatchMean, _ => Reduction.Mean };
        float[] gradOutput = reduction == Reduction.None ? GpuTestSupport.RandomFloats(count, 23) : [0.7f];

        var input = Tensor.FromArray(x, rows, columns).RequireGrad();
        var target = Tensor.FromArray(t, rows, columns).RequireGrad();
        Tensor expected = loss switch
        {
            "mse" => F.MseLoss(input, target, reduction),
            "l1" => F.L1Loss(input, target, reduction),
            "smooth_l1" => F.SmoothL1Loss(input, target, reduction, beta: 0.5f),
            "bce" => F.BinaryCrossEntropyWithLogits(input, target, reduction: reduction),
            "kl" => F.KlDiv(input, target, reduction),
            _ => F.KlDiv(input, target, reduction, logTarget: true),
        };
        expected.Backward(Tensor.FromArray(gradOutput, expected.ShapeArray));

        float scale = reduction switch { Reduction.Mean => 1f / count, Reduction.BatchMean => 1f / rows, _ => 1f };
        var (value, gradInput, gradTarget) = loss switch
        {
            "mse" => RunPointwise(new SquaredError(), x, t, reduction, scale, gradOutput),
            "l1" => RunPointwise(new AbsoluteError(), x, t, reduction, scale, gradOutput),
            "smooth_l1" => RunPointwise(new SmoothAbsoluteError(0.5f), x, t, reduction, scale, gradOutput),
            "bce" => RunPointwise(new LogitBinaryCrossEntropy(), x, t, reduction, scale, gradOutput),
            "kl" => RunPointwise(new KlDivergence(), x, t, reduction, scale, gradOutput),
            _ => RunPointwise(new LogKlDivergence(), x, t, reduction, scale, gradOutput),
        };
        GpuTestSupport.AssertClose(expected.ToArray(), value, 2e-6f, 2e-6f, $"{loss} ({reductionName}) value");
        GpuTestSupport.AssertClose(input.Grad!.ToArray(), gradInput, 2e-6f, 2e-6f, $"{loss} ({reductionName}) input gradient");
        GpuTestSupport.AssertClose(target.Grad!.ToArray(), gradTarget, 2e-6f, 2e-6f, $"{loss} ({reductionName}) target gradient");
    }

    private static (float[] Value, float[] GradInput, float[] GradTarget) RunPointwise<TLoss>(TLoss loss, float[] x, float[] t, Reduction reduction, float scale, float[] gradOutput)
        where TLoss : struct, IPointwiseLoss
    {
        using var driver = Driver();
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, x);
        using var dt = DeviceBuffer<float>.From(driver, t);
        using var dgo = DeviceBuffer<float>.From(driver, gradOutput);
        using var value = DeviceBuffer<float>.Allocate(driver, reduction == Reduction.None ? x.Length : 1);
        using var partials = DeviceBuffer<double>.Allocate(driver, PointwiseLoss.PartialCount(x.Length));
        using var gradInput = DeviceBuffer<float>.Allocate(driver, x.Length);
        using var gradTarget = DeviceBuffer<float>.Allocate(driver, x.Length);
        if (reduction == Reduction.None)
            PointwiseLoss.LaunchElements(launcher, loss, dx.View, dt.View, value.View);
        else
            PointwiseLoss.LaunchSum(launcher, loss, dx.View, dt.View, scale, partials.View, value.View);
        PointwiseLoss.LaunchBackward(launcher, loss, dx.View, dt.View, dgo.View, scale, gradInput.View, gradTarget.View);
        return (value.ToArray(), gradInput.ToArray(), gradTarget.ToArray());
    }

    [Theory]
    [InlineData(6, 5, 1, "mean", 0f, false)]
    [InlineData(6, 40, 1, "sum", 0.1f, true)]     // more classes than lanes, weights, smoothing
    [InlineData(2, 4, 9, "none", 0.2f, true)]     // spatial targets [N, d]
    [InlineData(3, 7, 2, "mean", 0.3f, true)]
    public void CrossEntropyMatchesCpu(int batchSize, int classCount, int innerSize, string reductionName, float smoothing, bool weighted)
    {
        int positions = batchSize * innerSize;
        float[] logits = GpuTestSupport.RandomFloats(batchSize * classCount * innerSize, 31, -4f, 4f);
        long[] target = Enumerable.Range(0, positions).Select(i => i % 5 == 2 ? -100L : (long)(i * 3 % classCount)).ToArray();
        float[] weight = weighted ? GpuTestSupport.RandomFloats(classCount, 32, 0.2f, 2f) : [];
        Reduction reduction = reductionName switch { "none" => Reduction.None, "sum" => Reduction.Sum, _ => Reduction.Mean };
        int code = reduction switch { Reduction.None => CrossEntropy.ReductionNone, Reduction.Sum => CrossEntropy.ReductionSum, _ => CrossEntropy.ReductionMean };
        float[] gradOutput = reduction == Reduction.None ? GpuTestSupport.RandomFloats(positions, 33) : [1.3f];
        int[] shape = innerSize == 1 ? [batchSize, classCount] : [batchSize, classCount, innerSize];
        int[] targetShape = innerSize == 1 ? [batchSize] : [batchSize, innerSize];

        var input = Tensor.FromArray(logits, shape).RequireGrad();
        var expected = F.CrossEntropy(input, Tensor.FromArray(target, targetShape), weighted ? Tensor.FromArray(weight) : null, -100, reduction, smoothing);
        expected.Backward(Tensor.FromArray(gradOutput, expected.ShapeArray));

        using var driver = Driver();
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, logits);
        using var dt = DeviceBuffer<long>.From(driver, target);
        using var dw = DeviceBuffer<float>.From(driver, weighted ? weight : [0f]);
        using var dgo = DeviceBuffer<float>.From(driver, gradOutput);
        using var loss = DeviceBuffer<float>.Allocate(driver, positions);
        using var targetWeight = DeviceBuffer<float>.Allocate(driver, positions);
        using var lse = DeviceBuffer<float>.Allocate(driver, positions);
        using var partials = DeviceBuffer<double>.Allocate(driver, 2 * PointwiseLoss.PartialCount(positions));
        using var totals = DeviceBuffer<float>.Allocate(driver, 2);
        using var grad = DeviceBuffer<float>.Allocate(driver, logits.Length);
        DeviceSpan<float> w = weighted ? dw.View : default;
        CrossEntropy.Forward(launcher, dx.View, dt.View, w, classCount, innerSize, -100, smoothing, loss.View, targetWeight.View, lse.View);
        CrossEntropy.Reduce(launcher, loss.View, targetWeight.View, code, partials.View, totals.View);
        CrossEntropy.Backward(launcher, dx.View, dt.View, w, targetWeight.View, lse.View, dgo.View, totals.View,
            classCount, innerSize, -100, smoothing, code, grad.View);
        float[] value = reduction == Reduction.None ? loss.ToArray() : [totals.ToArray()[0]];
        GpuTestSupport.AssertClose(expected.ToArray(), value, 2e-6f, 2e-6f, "cross-entropy value");
        GpuTestSupport.AssertClose(input.Grad!.ToArray(), grad.ToArray(), 2e-6f, 2e-6f, "cross-entropy gradient");
    }

    [Fact]
    public void NllLossMatchesCpuAndFindsTheFirstBadTarget()
    {
        const int batchSize = 4, classCount = 6, innerSize = 3;
        int positions = batchSize * innerSize;
        float[] logProbs = GpuTestSupport.RandomFloats(batchSize * classCount * innerSize, 41, -5f, 0f);
        long[] target = Enumerable.Range(0, positions).Select(i => i == 4 ? 7L : (long)(i % classCount)).ToArray();
        float[] weight = GpuTestSupport.RandomFloats(classCount, 42, 0.5f, 1.5f);
        float[] gradLoss = GpuTestSupport.RandomFloats(positions, 43);

        using var driver = Driver();
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, logProbs);
        using var dt = DeviceBuffer<long>.From(driver, target);
        using var dw = DeviceBuffer<float>.From(driver, weight);
        using var first = DeviceBuffer<int>.From(driver, [int.MaxValue]);
        NllLoss.CheckTargets(launcher, dt.View, classCount, ignoreIndex: 7, first.View);
        Assert.Equal(int.MaxValue, first.ToArray()[0]);        // 7 is the ignore index here
        target[9] = -3;
        target[11] = 6;
        dt.CopyFrom(target);
        NllLoss.CheckTargets(launcher, dt.View, classCount, ignoreIndex: -100, first.View);
        Assert.Equal(4, first.ToArray()[0]);                   // the smallest bad position, not the last written

        target[4] = 7; target[9] = 1; target[11] = 2;
        dt.CopyFrom(target);
        var input = Tensor.FromArray(logProbs, batchSize, classCount, innerSize).RequireGrad();
        var expected = F.NllLoss(input, Tensor.FromArray(target, batchSize, innerSize), Tensor.FromArray(weight), ignoreIndex: 7, Reduction.None);
        expected.Backward(Tensor.FromArray(gradLoss, batchSize, innerSize));

        using var loss = DeviceBuffer<float>.Allocate(driver, positions);
        using var targetWeight = DeviceBuffer<float>.Allocate(driver, positions);
        using var dgl = DeviceBuffer<float>.From(driver, gradLoss);
        using var grad = DeviceBuffer<float>.From(driver, new float[logProbs.Length]);
        NllLoss.Forward(launcher, dx.View, dt.View, dw.View, classCount, innerSize, 7, loss.View, targetWeight.View);
        NllLoss.Backward(launcher, dgl.View, targetWeight.View, dt.View, classCount, innerSize, 7, grad.View);
        Assert.Equal(expected.ToArray(), loss.ToArray());
        Assert.Equal(input.Grad!.ToArray(), grad.ToArray());
    }
}
