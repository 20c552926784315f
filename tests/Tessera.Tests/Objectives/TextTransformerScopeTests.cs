using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn.Text;
using Xunit;

namespace Tessera.Tests.Objectives;

/// <summary>A causal text tower keeps working across training steps that each run in their own <see cref="TensorScope"/>.</summary>
public sealed class TextTransformerScopeTests
{
    [Fact]
    public void CausalMaskCacheSurvivesTheScopeOfTheStepThatBuiltIt()
    {
        var tower = new TextTransformer(contextLength: 6, width: 8, depth: 1, heads: 2, causal: true, generator: new Generator(1));
        var tokens = Tensor.FromArray(new long[] { 1, 4, 20, 2, 0, 0, 1, 4, 21, 22, 2, 0 }, 2, 6);
        float first;
        using (new TensorScope()) first = tower.Forward(tokens).Sum().Item();
        float second;
        using (new TensorScope()) second = tower.Forward(tokens).Sum().Item(); // threw ObjectDisposedException before the fix
        Assert.Equal(first, second);
    }
}
