using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Threading;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Autograd;

public sealed class AutogradTests
{
    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var x = Tensor.FromArray([1f, 2f, 3f]).RequireGrad();
        F.Sum(x * x).Backward();
        Assert.Equal([2f, 4f, 6f], x.Grad!.ToArray());
        F.Sum(x * 3f).Backward();
        Assert.Equal([5f, 7f, 9f], x.Grad!.ToArray());
    }

    [Fact]
    public void ReusedTensorGetsTheSumOfItsPathGradients()
    {
        var x = Tensor.FromArray([2f]).RequireGrad();
        var y = x * x + x.Exp() * x; // d/dx = 2x + e^x (1 + x)
        y.Sum().Backward();
        Assert.Equal(4f + MathF.Exp(2f) * 3f, x.Grad!.Item(), 4);
    }

    [Fact]
    public void NoGradScopeRecordsNothingAndDetachCutsTheGraph()
    {
        var x = Tensor.Ones(2).RequireGrad();
        using (GradMode.NoGrad())
        {
            var y = x * 2f;
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFn);
        }
        var detached = (x * 2f).Detach();
        Assert.False(detached.RequiresGrad);
        Assert.True(detached.IsLeaf);
    }

    [Fact]
    public void RetainGradKeepsTheGradientOfAnIntermediate()
    {
        var x = Tensor.FromArray([1f, -2f]).RequireGrad();
        var h = (x * 3f).RetainGrad();
        F.Sum(h * h).Backward();
        Assert.Equal([6f, -12f], h.Grad!.ToArray());
        Assert.Equal([18f, -36f], x.Grad!.ToArray());
    }

    [Fact]
    public void BackwardOnATensorWithoutGradIsAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => Tensor.Ones(3).Sum().Backward());
        Assert.Contains("requires grad", error.Message, StringComparison.Ordinal);
        var vector = Tensor.Ones(3).RequireGrad() * 2f;
        var shapeError = Assert.Throws<TensorShapeException>(() => vector.Backward());
        Assert.Contains("non-scalar", shapeError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InPlaceChangeOfALeafThatRequiresGradIsRefused()
    {
        var w = Tensor.Ones(2).RequireGrad();
        Assert.Throws<InvalidOperationException>(() => w.AddInPlace(Tensor.Ones(2)));
        using (GradMode.NoGrad()) w.AddInPlace(Tensor.Ones(2), alpha: 0.5f);
        Assert.Equal([1.5f, 1.5f], w.ToArray());
    }

    private sealed class Cube : CustomFunction
    {
        protected override Tensor Forward(FunctionContext context, Tensor[] inputs)
        {
            context.SaveForBackward(inputs[0]);
            return inputs[0] * inputs[0] * inputs[0];
        }

        protected override Tensor?[] Backward(FunctionContext context, Tensor gradOutput)
        {
            var x = context.SavedTensors[0];
            return [gradOutput * x * x * 3f];
        }
    }

    [Fact]
    public void CustomFunctionTakesPartInTheGraph()
    {
        var x = Tensor.FromArray([1f, 2f]).RequireGrad();
        var y = new Cube().Apply(x);
        Assert.Equal("Cube", y.GradFn!.Name);
        F.Sum(y * 2f).Backward();
        Assert.Equal([6f, 24f], x.Grad!.ToArray());
        Assert.True(GradCheck.Run(t => new Cube().Apply(t[0]), [Tensor.FromArray([0.5f, -1.2f, 2f]).RequireGrad()]).Passed);
    }

    [Fact]
    public void GradCheckAgreesOnComposedOps()
    {
        var generator = new Tessera.Engine.Random.Generator(3);
        var a = Tensor.Randn([3, 4], generator).RequireGrad();
        var b = Tensor.Randn([4, 2], generator).RequireGrad();
        var result = GradCheck.Run(t => F.Tanh(F.Matmul(t[0], t[1])).Softplus(), [a, b]);
        Assert.True(result.Passed, result.Report);
        var reduce = GradCheck.Run(t => F.LogSumExp(t[0] * t[0], [1]) - F.Std(t[0], [0]).Sum(), [a]);
        Assert.True(reduce.Passed, reduce.Report);
    }

    [Fact]
    public void GradCheckCatchesAWrongBackward()
    {
        var x = Tensor.FromArray([0.3f, -0.7f]).RequireGrad();
        var result = GradCheck.Run(t => new WrongSquare().Apply(t[0]), [x]);
        Assert.False(result.Passed);
        Assert.Contains("analytic", result.Report, StringComparison.Ordinal);
    }

    private sealed class WrongSquare : CustomFunction
    {
        protected override Tensor Forward(FunctionContext context, Tensor[] inputs)
        {
            context.SaveForBackward(inputs[0]);
            return inputs[0] * inputs[0];
        }

        protected override Tensor?[] Backward(FunctionContext context, Tensor gradOutput) => [gradOutput * context.SavedTensors[0]];
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        var generator = new Tessera.Engine.Random.Generator(11);
        var a = Tensor.Randn([64, 96], generator);
        var b = Tensor.Randn([96, 80], generator);
        float[] serial, parallel;
        using (CpuParallel.WithThreads(1)) serial = F.Sum(F.Matmul(a, b).Exp().Log(), [1]).ToArray();
        using (CpuParallel.WithThreads(2)) parallel = F.Sum(F.Matmul(a, b).Exp().Log(), [1]).ToArray();
        Assert.Equal(serial, parallel);
    }
}

internal static class TestOps
{
    /// <summary>log(1 + e^x) composed from primitives, to exercise chains in grad checks.</summary>
    public static Tensor Softplus(this Tensor x) => F.Log(F.Exp(x) + 1f);
}
