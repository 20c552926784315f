using Tessera.Engine.Random;
using Tessera.Kernels.Cpu;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>The vectorised 2×2 stride-2 max pool (16 windows at a time) against the window rule written out: ties keep the first, a NaN wins.</summary>
public sealed unsafe class MaxPoolTwoByTwoTests
{
    [Theory]
    [InlineData(4, 4)]
    [InlineData(7, 33)]
    [InlineData(10, 64)]
    [InlineData(9, 71)]
    public void MatchesTheWindowRule(int height, int width)
    {
        const int Planes = 3;
        int outH = height / 2, outW = width / 2;
        var generator = new Generator(17);
        var x = new float[Planes * height * width];
        generator.Normal(x);
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(x[i]); // ties
        for (int i = 5; i < x.Length; i += 37) x[i] = float.NaN;
        var geometry = new Pool2dGeometry
        {
            PlaneCount = Planes, InHeight = height, InWidth = width, OutHeight = outH, OutWidth = outW,
            KernelHeight = 2, KernelWidth = 2, StrideHeight = 2, StrideWidth = 2, DilationHeight = 1, DilationWidth = 1,
        };
        var y = new float[Planes * outH * outW];
        var indices = new long[y.Length];
        fixed (float* px = x, py = y)
        fixed (long* pi = indices)
            MaxPool2d.Forward(px, geometry, py, pi);
        for (int plane = 0; plane < Planes; plane++)
            for (int oh = 0; oh < outH; oh++)
                for (int ow = 0; ow < outW; ow++)
                {
                    int best = 2 * oh * width + 2 * ow;
                    foreach (int candidate in new[] { best + 1, best + width, best + width + 1 })
                    {
                        float v = x[plane * height * width + candidate], b = x[plane * height * width + best];
                        if (v > b || float.IsNaN(v)) best = candidate;
                    }
                    int o = (plane * outH + oh) * outW + ow;
                    Assert.Equal(best, indices[o]);
                    Assert.Equal(x[plane * height * width + best], y[o]);
                }
    }
}
