using Tessera.Autograd;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Autograd;

/// <summary>
/// The low-level autograd pattern (functional ops, Backward, a manual update under NoGrad) that
/// the README showed before its library section became samples/Quickstart (Docs.ReadmeExampleTests).
/// </summary>
public sealed class FunctionalStepExampleTests
{
    [Fact]
    public void FunctionalStepRunsAndDescends()
    {
        var x = Tensor.Randn([8, 3, 32, 32]);
        var w = Tensor.Randn([16, 3, 3, 3]).RequireGrad();
        var y = F.Relu(F.Conv2d(x, w, bias: null, stride: 1, padding: 1));
        var loss = F.Mean(y * y);
        loss.Backward();                 // w.Grad now holds d(loss)/dw
        using (GradMode.NoGrad()) w.AddInPlace(w.Grad!, alpha: -0.1f);

        Assert.Equal([8, 16, 32, 32], y.Shape.ToArray());
        float after = F.Mean(F.Relu(F.Conv2d(x, w, bias: null, stride: 1, padding: 1)).Pow(2f)).Item();
        Assert.True(after < loss.Item(), $"one gradient step should lower the loss: {loss.Item()} -> {after}");
    }
}
