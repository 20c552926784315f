using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Behaviour beyond the goldens: fully masked attention rows and thread-count independence.</summary>
public sealed class VisionBehaviourTests
{
    [Fact]
    public void FullyMaskedAttentionRowGivesZerosAndNoGradient()
    {
        var q = Tensor.Randn([1, 3, 4], new Generator(1)).RequireGrad();
        var k = Tensor.Randn([1, 5, 4], new Generator(2)).RequireGrad();
        var v = Tensor.Randn([1, 5, 2], new Generator(3)).RequireGrad();
        var keep = new bool[15];
        for (int j = 0; j < 5; j++)
        {
            keep[j] = j % 2 == 0;
            keep[10 + j] = true; // row 1 stays fully masked
        }
        var mask = Tensor.FromArray(keep, 3, 5);
        var y = F.ScaledDotProductAttention(q, k, v, mask);
        F.Sum(y * Tensor.Randn([1, 3, 2], new Generator(4))).Backward();

        var values = y.ToArray();
        Assert.Equal([0f, 0f], values[2..4]);
        Assert.All(values, x => Assert.True(float.IsFinite(x)));
        Assert.Equal(new float[4], q.Grad!.ToArray()[4..8]);
        Assert.All(q.Grad.ToArray().Concat(k.Grad!.ToArray()).Concat(v.Grad!.ToArray()), x => Assert.True(float.IsFinite(x)));

        // The other rows are unaffected by the masked one.
        var row0 = F.ScaledDotProductAttention(q.Detach().Narrow(1, 0, 1), k.Detach(), v.Detach(), mask.Narrow(0, 0, 1)).ToArray();
        Assert.Equal(row0, values[0..2]);
    }

    [Fact]
    public void CausalEqualsAnExplicitLowerTriangularMask()
    {
        var q = Tensor.Randn([2, 7, 5], new Generator(5));
        var k = Tensor.Randn([2, 9, 5], new Generator(6));
        var v = Tensor.Randn([2, 9, 3], new Generator(7));
        var tril = new bool[7 * 9];
        for (int i = 0; i < 7; i++)
            for (int j = 0; j <= i; j++)
                tril[i * 9 + j] = true;
        var causal = F.ScaledDotProductAttention(q, k, v, isCausal: true).ToArray();
        var masked = F.ScaledDotProductAttention(q, k, v, Tensor.FromArray(tril, 7, 9)).ToArray();
        for (int i = 0; i < causal.Length; i++)
            Assert.Equal(masked[i], causal[i], 1e-6f);
    }

    [Fact]
    public void AttentionIsIndependentOfTheThreadCount()
    {
        var inputs = new[] { new[] { 2, 3, 70, 16 }, [2, 3, 45, 16], [2, 3, 45, 12] }.Select((s, i) => Tensor.Randn(s, new Generator((ulong)i + 10))).ToArray();
        var bias = Tensor.Randn([3, 70, 45], new Generator(20));
        var upstream = Tensor.Randn([2, 3, 70, 12], new Generator(21));
        float[][] Run(int threads)
        {
            using var _ = CpuParallel.WithThreads(threads);
            var leaves = inputs.Append(bias).Select(t => t.Detach().RequireGrad()).ToArray();
            var y = F.ScaledDotProductAttention(leaves[0], leaves[1], leaves[2], leaves[3]);
            F.Sum(y * upstream).Backward();
            return [y.ToArray(), .. leaves.Select(l => l.Grad!.ToArray())];
        }
        var serial = Run(1);
        var parallel = Run(2);
        for (int i = 0; i < serial.Length; i++)
            Assert.Equal(serial[i], parallel[i]);
    }

    [Fact]
    public void RoiAlignAndRoutedCombineAreIndependentOfTheThreadCount()
    {
        var input = Tensor.Randn([2, 8, 16, 16], new Generator(30));
        var boxes = Tensor.FromArray([0f, 1f, 2f, 9f, 12f, 1f, -2f, 3f, 17f, 8f, 1f, 4.5f, 4f, 6f, 6.5f, 0f, 0f, 0f, 15f, 15f], 4, 5);
        var weights = Tensor.Randn([3, 4], new Generator(31));
        var units = Tensor.Randn([4, 3, 5000], new Generator(32));
        float[][] Run(int threads)
        {
            using var _ = CpuParallel.WithThreads(threads);
            var x = input.Detach().RequireGrad();
            var pooled = F.RoiAlign(x, boxes, (5, 4), 1f, 0, aligned: true);
            F.Sum(pooled * pooled).Backward();
            var w = weights.Detach().RequireGrad();
            var u = units.Detach().RequireGrad();
            var combined = F.RoutedCombine(w, u);
            F.Sum(combined * combined).Backward();
            return [pooled.ToArray(), x.Grad!.ToArray(), combined.ToArray(), w.Grad!.ToArray(), u.Grad!.ToArray()];
        }
        var serial = Run(1);
        var parallel = Run(2);
        for (int i = 0; i < serial.Length; i++)
            Assert.Equal(serial[i], parallel[i]);
    }

    [Fact]
    public void RoutedCombineListAndStackedAgree()
    {
        var weights = Tensor.Randn([3, 2], new Generator(40));
        var a = Tensor.Randn([3, 4], new Generator(41));
        var b = Tensor.Randn([3, 4], new Generator(42));
        var fromList = F.RoutedCombine(weights, [a, b]).ToArray();
        var stacked = Tensor.FromArray(a.ToArray().Concat(b.ToArray()).ToArray(), 2, 3, 4);
        Assert.Equal(fromList, F.RoutedCombine(weights, stacked).ToArray());
    }
}
