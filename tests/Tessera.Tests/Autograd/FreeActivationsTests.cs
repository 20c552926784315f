using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Autograd;

/// <summary>Backward with freeActivations: same gradients, activations disposed during the sweep, root, leaves and retained tensors kept.</summary>
public class FreeActivationsTests
{
    private static (Tensor Loss, Tensor Hidden, Tensor Activation, Tensor[] Leaves) Graph()
    {
        var generator = new Generator(3);
        var x = Tensor.Randn([4, 6], generator);
        var w1 = Tensor.Randn([6, 5], generator).RequireGrad();
        var w2 = Tensor.Randn([5, 3], generator).RequireGrad();
        var hidden = x.Matmul(w1);
        var activation = F.Gelu(hidden).Reshape(4, 5);
        var logits = activation.Matmul(w2) + activation.Sum(1, keepDim: true);   // activation used twice
        var loss = F.CrossEntropy(logits, Tensor.FromArray(new long[] { 0, 2, 1, 2 }, 4));
        return (loss, hidden, activation, [w1, w2]);
    }

    [Fact]
    public void GradientsAreUnchanged()
    {
        var (loss, _, _, leaves) = Graph();
        loss.Backward();
        var expected = leaves.Select(l => l.Grad!.ToArray()).ToArray();
        var (freed, _, _, freedLeaves) = Graph();
        freed.Backward(null, freeActivations: true);
        for (int i = 0; i < leaves.Length; i++)
            Assert.Equal(expected[i], freedLeaves[i].Grad!.ToArray());
    }

    [Fact]
    public void ActivationsAreDisposedRootAndRetainedKept()
    {
        var (loss, hidden, activation, leaves) = Graph();
        hidden.RetainGrad();
        float value = loss.Item();
        AutogradEngine.Backward(loss, freeActivations: true);
        Assert.True(activation.IsDisposed);
        Assert.False(hidden.IsDisposed);
        Assert.NotNull(hidden.Grad);
        Assert.False(loss.IsDisposed);
        Assert.Equal(value, loss.Item());
        Assert.All(leaves, l => Assert.False(l.IsDisposed));
        Assert.Throws<ObjectDisposedException>(() => activation.ToArray());
    }

    [Fact]
    public void LinearKeepsOneActivationAndMatchesMatmulPlusBias()
    {
        var generator = new Generator(4);
        var x = Tensor.Randn([2, 3, 4], generator).RequireGrad();
        var layer = new Linear(4, 5, generator: generator);
        var y = layer.Forward(x);
        Assert.Equal("linear", y.GradFn!.Name);
        var reference = x.Matmul(layer.Weight.T) + layer.Bias!;
        Assert.Equal(reference.ToArray(), y.ToArray());
        var gout = Tensor.Randn([2, 3, 5], generator);
        var grads = AutogradEngine.Grad(F.Sum(y * gout), [x, layer.Weight, layer.Bias!]);
        var expected = AutogradEngine.Grad(F.Sum(reference * gout), [x, layer.Weight, layer.Bias!]);
        for (int i = 0; i < 3; i++)
        {
            var a = grads[i]!.ToArray();
            var b = expected[i]!.ToArray();
            for (int j = 0; j < a.Length; j++)
                Assert.True(MathF.Abs(a[j] - b[j]) <= 1e-5f + 1e-5f * MathF.Abs(b[j]), $"grad {i}[{j}]: {a[j]} vs {b[j]}");
        }
    }
}
