using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Tessera.Kernels.Cpu;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>The channels-last RoIAlign must equal the plain reference bit for bit, on any thread count.</summary>
public sealed unsafe class RoiAlignVariantTests
{
    [Theory]
    [InlineData(2, 37, 13, 17, 40, 2, true, 1)]
    [InlineData(1, 16, 9, 9, 25, 0, false, 2)]
    [InlineData(3, 5, 20, 11, 60, 3, true, 2)]
    [InlineData(2, 8, 6, 7, 0, 2, true, 2)]
    [InlineData(2, 80, 9, 11, 12, 2, true, 2)] // a 64-channel block, then a 16-channel block
    [InlineData(1, 134, 8, 10, 7, -1, false, 1)] // two 64-channel blocks, then 6 single channels
    public void ChannelsLastMatchesTheReference(int batch, int channels, int height, int width, int roiCount, int sampling, bool aligned, int threads)
    {
        var generator = new Generator((ulong)(channels * 31 + roiCount));
        var input = new float[batch * channels * height * width];
        generator.Normal(input);
        var boxes = new float[roiCount * 5];
        var u = new float[roiCount * 4];
        generator.Uniform(u, -0.3f, 1.3f); // some RoIs cross or leave the image
        for (int n = 0; n < roiCount; n++)
        {
            float x1 = u[4 * n] * width * 2, y1 = u[4 * n + 1] * height * 2;
            boxes[5 * n] = n % batch;
            boxes[5 * n + 1] = x1;
            boxes[5 * n + 2] = y1;
            boxes[5 * n + 3] = x1 + MathF.Abs(u[4 * n + 2]) * width;
            boxes[5 * n + 4] = y1 + MathF.Abs(u[4 * n + 3]) * height;
        }
        const int OutH = 5, OutW = 4;
        const float Scale = 0.5f;
        var expected = new float[roiCount * channels * OutH * OutW];
        var actual = new float[expected.Length];
        var gradOutput = new float[expected.Length];
        generator.Normal(gradOutput);
        var expectedGrad = new float[input.Length];
        var actualGrad = new float[input.Length];
        fixed (float* x = input, b = boxes, e = expected, a = actual, g = gradOutput, eg = expectedGrad, ag = actualGrad)
        {
            RoiAlign.Forward(x, b, channels, height, width, roiCount, OutH, OutW, Scale, sampling, aligned, e);
            RoiAlign.Backward(g, b, batch, channels, height, width, roiCount, OutH, OutW, Scale, sampling, aligned, eg);
            using (CpuParallel.WithThreads(threads))
            {
                RoiAlignChannelsLast.Forward(x, b, batch, channels, height, width, roiCount, OutH, OutW, Scale, sampling, aligned, a);
                RoiAlignChannelsLast.Backward(g, b, batch, channels, height, width, roiCount, OutH, OutW, Scale, sampling, aligned, ag);
            }
        }
        Assert.Equal(expected, actual);
        Assert.Equal(expectedGrad, actualGrad);
    }
}
