using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Properties the goldens do not pin down: the transposed convolution is the adjoint of conv2d; results do not depend on the thread count.</summary>
public sealed class ConvPropertyTests
{
    [Theory]
    [InlineData(1, 0, 1, 1)]
    [InlineData(2, 1, 1, 1)]
    [InlineData(2, 2, 2, 2)]
    [InlineData(1, 1, 1, 4)]
    public void ConvTransposeIsTheAdjointOfConv(int stride, int padding, int dilation, int groups)
    {
        var generator = new Generator(11);
        var x = Tensor.Randn([2, 4, 9, 8], generator);
        var w = Tensor.Randn([4, 4 / groups, 3, 3], generator);
        var y = F.Conv2d(x, w, null, stride, padding, dilation, groups);
        var v = Tensor.Randn(y.Shape, generator);
        int extraHeight = x.Size(2) - ((y.Size(2) - 1) * stride - 2 * padding + dilation * 2 + 1);
        int extraWidth = x.Size(3) - ((y.Size(3) - 1) * stride - 2 * padding + dilation * 2 + 1);
        var back = F.ConvTranspose2d(v, w, null, (stride, stride), (padding, padding), (extraHeight, extraWidth), groups, (dilation, dilation));
        Assert.Equal(x.Shape.ToArray(), back.Shape.ToArray());
        // <conv(x), v> == <x, convT(v)>
        float left = F.Sum(y * v).Item(), right = F.Sum(x * back).Item();
        Assert.True(MathF.Abs(left - right) <= 1e-3f * (1f + MathF.Abs(left)), $"<conv x, v> = {left} but <x, convT v> = {right}");
    }

    [Fact]
    public void ResultsDoNotDependOnThreadCount()
    {
        var generator = new Generator(5);
        var x = Tensor.Randn([6, 4, 10, 9], generator).RequireGrad();
        var w = Tensor.Randn([6, 2, 3, 3], generator).RequireGrad();
        float[] Run()
        {
            x.Grad = null;
            w.Grad = null;
            var y = F.Conv2d(x, w, null, 2, 1, 1, groups: 2);
            var pooled = F.MaxPool2d(y, 2, ceilMode: true) + F.Interpolate(F.AvgPool2d(y, 2, ceilMode: true), size: (3, 3), mode: InterpolationMode.Bilinear);
            F.Sum(pooled * pooled).Backward();
            return [.. pooled.ToArray(), .. x.Grad!.ToArray(), .. w.Grad!.ToArray()];
        }
        float[] parallel = Run();
        float[] serial;
        using (CpuParallel.WithThreads(1))
            serial = Run();
        Assert.Equal(serial, parallel);
    }
}
