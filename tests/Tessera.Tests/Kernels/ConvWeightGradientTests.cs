using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Kernels;

/// <summary>The grouped-partials weight gradient (batch beyond one group) equals per-image gradients summed, on any thread count.</summary>
public sealed class ConvWeightGradientTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    public void BatchWeightGradientIsTheSumOverImages(int threads, int groups)
    {
        var generator = new Generator(21);
        var x = Tensor.Randn([9, 4, 7, 6], generator);
        var w = Tensor.Randn([6, 4 / groups, 3, 3], generator);
        var gradOutput = Tensor.Randn([9, 6, 4, 2], generator);
        var batchLeaf = w.Detach().RequireGrad();
        using (CpuParallel.WithThreads(threads))
            F.Sum(F.Conv2d(x, batchLeaf, null, (2, 2), (1, 0), (1, 1), groups) * gradOutput).Backward();
        var batched = batchLeaf.Grad!.ToArray();
        var expected = new double[batched.Length];
        for (int n = 0; n < 9; n++)
        {
            var leaf = w.Detach().RequireGrad();
            var loss = F.Sum(F.Conv2d(x.Narrow(0, n, 1), leaf, null, (2, 2), (1, 0), (1, 1), groups) * gradOutput.Narrow(0, n, 1));
            loss.Backward();
            var single = leaf.Grad!.ToArray();
            for (int i = 0; i < single.Length; i++) expected[i] += single[i];
        }
        for (int i = 0; i < batched.Length; i++)
            Assert.True(Math.Abs(batched[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"gradWeight[{i}] = {batched[i]}, per-image sum {expected[i]}");
    }
}
