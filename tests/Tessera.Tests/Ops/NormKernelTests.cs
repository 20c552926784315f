using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>
/// The norm kernels on inputs large enough to split across threads (the goldens are small):
/// the result must not depend on the thread count, and must match the same op written with
/// plain reductions and elementwise ops.
/// </summary>
public sealed class NormKernelTests
{
    private static readonly Tolerance Close = new(1e-4f, 1e-4f);

    /// <summary>Forward and input gradient of op(x) · gradOutput, with the given thread count.</summary>
    private static (float[] Output, float[] Grad) Run(Func<Tensor, Tensor> op, int[] shape, int threads)
    {
        using var _ = CpuParallel.WithThreads(threads);
        var x = Tensor.Randn(shape, new Generator(21)).RequireGrad();
        var y = op(x);
        F.Sum(y * Tensor.Randn(y.Shape, new Generator(22))).Backward();
        return (y.ToArray(), x.Grad!.ToArray());
    }

    public static TheoryData<string> Ops => ["batch_norm", "batch_norm_2d", "layer_norm", "group_norm", "softmax_last", "softmax_middle", "log_softmax", "cross_entropy"];

    private static (Func<Tensor, Tensor> Op, Func<Tensor, Tensor> Reference, int[] Shape) Case(string name)
    {
        var target = Tensor.FromData<long>(Enumerable.Range(0, 64 * 50).Select(i => (long)(i * 7 % 50)).ToArray(), [64, 50]);
        return name switch
        {
            "batch_norm" => (x => F.BatchNorm(x, null, null, training: true), x => Standardize(x, [0, 2, 3], 1e-5f), [16, 8, 24, 24]),
            "batch_norm_2d" => (x => F.BatchNorm(x, null, null, training: true), x => Standardize(x, [0], 1e-5f), [512, 96]),
            "layer_norm" => (x => F.LayerNorm(x, [256]), x => Standardize(x, [-1], 1e-5f), [300, 256]),
            "group_norm" => (x => F.GroupNorm(x, 4, eps: 1e-3f), x => Standardize(x.Reshape(8, 4, -1), [-1], 1e-3f).Reshape(8, 16, 20, 20), [8, 16, 20, 20]),
            "softmax_last" => (x => F.Softmax(x, -1), x => F.Exp(x) / F.Sum(F.Exp(x), -1, keepDim: true), [400, 200]),
            "softmax_middle" => (x => F.Softmax(x, 1), x => F.Exp(x) / F.Sum(F.Exp(x), 1, keepDim: true), [20, 50, 64]),
            "log_softmax" => (x => F.LogSoftmax(x, 1), x => x - F.LogSumExp(x, 1, keepDim: true), [20, 50, 64]),
            "cross_entropy" => (x => F.CrossEntropy(x, target, reduction: Reduction.None), x => -(F.LogSoftmax(x, 1) * OneHot(target, 50)).Sum(1), [64, 50, 50]),
            _ => throw new ArgumentException(name),
        };
    }

    private static Tensor Standardize(Tensor x, int[] dims, float eps) =>
        (x - F.Mean(x, dims, keepDim: true)) / F.Sqrt(F.Var(x, dims, correction: 0, keepDim: true) + eps);

    /// <summary>[N, C, d] one-hot of int64 targets [N, d].</summary>
    private static Tensor OneHot(Tensor target, int classes)
    {
        var t = target.ToArray<long>();
        int batch = target.Size(0), inner = target.Size(1);
        var data = new float[batch * classes * inner];
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < inner; i++)
                data[(n * classes + t[n * inner + i]) * inner + i] = 1f;
        return Tensor.FromArray(data, batch, classes, inner);
    }

    [Theory]
    [MemberData(nameof(Ops))]
    public void SameResultForOneAndTwoThreadsAndMatchesTheComposedReference(string name)
    {
        var (op, reference, shape) = Case(name);
        var serial = Run(op, shape, 1);
        var parallel = Run(op, shape, 2);
        Assert.Equal(serial.Output, parallel.Output);
        Assert.Equal(serial.Grad, parallel.Grad);
        var expected = Run(reference, shape, 2);
        GoldenRunner.AssertClose(Tensor.FromArray(parallel.Output), Tensor.FromArray(expected.Output), Close, $"norm-kernels/{name} forward");
        GoldenRunner.AssertClose(Tensor.FromArray(parallel.Grad), Tensor.FromArray(expected.Grad), Close, $"norm-kernels/{name} grad.x");
    }
}
