using Tessera.Autograd;
using Tessera.Engine.Random;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Kernels;

/// <summary>Shapes large enough that forward and backward unfold the image in several row chunks, against naive loops.</summary>
public sealed class ConvChunkingTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 2, 1)]
    [InlineData(1, 1, 2)]
    [InlineData(2, 2, 2)]
    [InlineData(1, 2, 2)]
    [InlineData(1, 3, 3)]
    public void ChunkedForwardMatchesNaiveLoops(int stride, int dilation, int batch)
    {
        const int Channels = 64, Filters = 4, Height = 21, Width = 70, Kernel = 3, Padding = 1;
        var generator = new Generator(31);
        var x = Tensor.Randn([batch, Channels, Height, Width], generator);
        var w = Tensor.Randn([Filters, Channels, Kernel, Kernel], generator);
        var b = Tensor.Randn([Filters], generator);
        x.RequiresGrad = true;
        w.RequiresGrad = true;
        var y = F.Conv2d(x, w, b, stride, Padding, dilation);
        int outH = y.Size(2), outW = y.Size(3);
        var gradOutput = Tensor.Randn(y.Shape, generator);
        F.Sum(y * gradOutput).Backward();
        float[] xs = x.ToArray(), ws = w.ToArray(), bs = b.ToArray(), ys = y.ToArray(), gs = gradOutput.ToArray();
        var gradX = new double[xs.Length];
        var gradW = new double[ws.Length];
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < Filters; o++)
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        double sum = bs[o];
                        for (int c = 0; c < Channels; c++)
                            for (int kh = 0; kh < Kernel; kh++)
                                for (int kw = 0; kw < Kernel; kw++)
                                {
                                    int ih = oh * stride - Padding + kh * dilation, iw = ow * stride - Padding + kw * dilation;
                                    if (ih < 0 || ih >= Height || iw < 0 || iw >= Width) continue;
                                    int xi = ((n * Channels + c) * Height + ih) * Width + iw, wi = ((o * Channels + c) * Kernel + kh) * Kernel + kw;
                                    double g = gs[((n * Filters + o) * outH + oh) * outW + ow];
                                    sum += (double)xs[xi] * ws[wi];
                                    gradX[xi] += g * ws[wi];
                                    gradW[wi] += g * xs[xi];
                                }
                        float actual = ys[((n * Filters + o) * outH + oh) * outW + ow];
                        Assert.True(Math.Abs(actual - sum) <= 1e-3 * (1 + Math.Abs(sum)), $"y[{n},{o},{oh},{ow}] = {actual}, naive {sum}");
                    }
        AssertClose(x.Grad!.ToArray(), gradX, "gradInput");
        AssertClose(w.Grad!.ToArray(), gradW, "gradWeight");
    }

    private static void AssertClose(float[] actual, double[] expected, string what)
    {
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-3 * (1 + Math.Abs(expected[i])), $"{what}[{i}] = {actual[i]}, naive {expected[i]}");
    }
}
