using Tessera.Autograd;
using Tessera.Engine;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Invalid shapes, hyper-parameters and dtypes for convolution, pooling and interpolation throw clear ArgumentExceptions.</summary>
public sealed class ConvBadInputTests
{
    private static Tensor Image(int batch, int channels, int height, int width) => Tensor.Zeros(batch, channels, height, width);

    private static void Mentions(Exception e, params string[] words)
    {
        foreach (var word in words)
            Assert.Contains(word, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Conv2dRejectsChannelsNotDivisibleByGroups()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.Conv2d(Image(1, 3, 5, 5), Tensor.Zeros(4, 1, 3, 3), groups: 2));
        Mentions(e, "conv2d", "'input'", "divisible by groups=2", "found 3");
    }

    [Fact]
    public void Conv2dRejectsWeightInChannelMismatch()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.Conv2d(Image(1, 3, 5, 5), Tensor.Zeros(4, 2, 3, 3)));
        Mentions(e, "conv2d", "'input'", "expected 2 channels", "found 3", "[4, 2, 3, 3]");
    }

    [Fact]
    public void Conv2dRejectsOutChannelsNotDivisibleByGroups()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.Conv2d(Image(1, 4, 5, 5), Tensor.Zeros(3, 2, 3, 3), groups: 2));
        Mentions(e, "conv2d", "'weight'", "divisible by groups=2", "found 3");
    }

    [Fact]
    public void Conv2dRejectsNon4dInputAndWeight()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.Conv2d(Tensor.Zeros(3, 5, 5), Tensor.Zeros(4, 3, 3, 3)));
        Mentions(e, "conv2d", "'input'", "4-d", "[3, 5, 5]");
        e = Assert.Throws<TensorShapeException>(() => F.Conv2d(Image(1, 3, 5, 5), Tensor.Zeros(4, 27)));
        Mentions(e, "conv2d", "'weight'", "4-d", "[4, 27]");
    }

    [Fact]
    public void Conv2dRejectsBadBias()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.Conv2d(Image(1, 3, 5, 5), Tensor.Zeros(4, 3, 3, 3), Tensor.Zeros(3)));
        Mentions(e, "conv2d", "'bias'", "[4]", "[3]");
    }

    [Theory]
    [InlineData(0, 1, 0, "stride", "(0, 1)")]
    [InlineData(-1, 1, 0, "stride", "(-1, -1)")]
    [InlineData(1, 0, 0, "dilation", "(0, 0)")]
    [InlineData(1, 1, -1, "padding", "(-1, -1)")]
    public void Conv2dRejectsInvalidHyperParameters(int stride, int dilation, int padding, string argument, string found)
    {
        var strideHeight = stride == 0 ? (0, 1) : (stride, stride);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            F.Conv2d(Image(1, 3, 5, 5), Tensor.Zeros(4, 3, 3, 3), null, strideHeight, (padding, padding), (dilation, dilation)));
        Mentions(e, "conv2d", $"'{argument}'", found);
        Assert.Equal(argument, e.ParamName);
    }

    [Fact]
    public void Conv2dRejectsKernelLargerThanPaddedInput()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.Conv2d(Image(1, 3, 4, 4), Tensor.Zeros(2, 3, 3, 3), null, 1, 0, dilation: 2));
        Mentions(e, "conv2d", "kernel spans 5", "padded input has only 4");
    }

    [Fact]
    public void ConvRejectsWrongDType()
    {
        var longInput = Tensor.FromArray(new long[25], 1, 1, 5, 5);
        var e = Assert.Throws<TensorDTypeException>(() => F.Conv2d(longInput, Tensor.Zeros(1, 1, 3, 3)));
        Mentions(e, "conv2d", "'input'", "float32", "int64");
        e = Assert.Throws<TensorDTypeException>(() => F.ConvTranspose2d(Image(1, 1, 3, 3), Tensor.FromArray(new int[9], 1, 1, 3, 3)));
        Mentions(e, "conv_transpose2d", "'weight'", "float32", "int32");
    }

    [Fact]
    public void ConvTranspose2dRejectsChannelMismatchAndBigOutputPadding()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.ConvTranspose2d(Image(1, 3, 4, 4), Tensor.Zeros(2, 3, 3, 3)));
        Mentions(e, "conv_transpose2d", "'input'", "expected 2 channels", "found 3");
        e = Assert.Throws<TensorShapeException>(() => F.ConvTranspose2d(Image(1, 3, 4, 4), Tensor.Zeros(3, 1, 3, 3), groups: 2));
        Mentions(e, "conv_transpose2d", "divisible by groups=2", "found 3");
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => F.ConvTranspose2d(Image(1, 2, 4, 4), Tensor.Zeros(2, 3, 3, 3), null, stride: 2, outputPadding: 2));
        Mentions(range, "conv_transpose2d", "'outputPadding'", "smaller than either stride", "found (2, 2)");
    }

    [Fact]
    public void MaxPoolRejectsPaddingAboveHalfTheKernel()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => F.MaxPool2d(Image(1, 1, 6, 6), 3, padding: 2));
        Mentions(e, "max_pool2d", "'padding'", "at most half the kernel size (1, 1)", "found (2, 2)");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => F.AvgPool2d(Image(1, 1, 6, 6), (2, 4), padding: (1, 3)));
        Mentions(e, "avg_pool2d", "'padding'", "(1, 2)", "found (1, 3)");
    }

    [Fact]
    public void PoolsRejectNonPositiveKernelAndStride()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => F.MaxPool2d(Image(1, 1, 6, 6), 2, stride: 0));
        Mentions(e, "max_pool2d", "'stride'", "positive", "found (0, 0)");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => F.AvgPool2d(Image(1, 1, 6, 6), (0, 2)));
        Mentions(e, "avg_pool2d", "'kernelSize'", "positive", "found (0, 2)");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => F.MaxPool2d(Image(1, 1, 6, 6), 2, dilation: -1));
        Mentions(e, "max_pool2d", "'dilation'", "found (-1, -1)");
    }

    [Fact]
    public void PoolsRejectOutputSmallerThanOne()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.MaxPool2d(Image(1, 1, 2, 2), 3));
        Mentions(e, "max_pool2d", "would be 0x0", "at least 1x1");
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => F.AdaptiveAvgPool2d(Image(1, 1, 4, 4), (0, 2)));
        Mentions(range, "adaptive_avg_pool2d", "'outputSize'", "positive", "found (0, 2)");
    }

    [Fact]
    public void PoolsAndInterpolateRejectNon4dAndWrongDType()
    {
        var e = Assert.Throws<TensorShapeException>(() => F.MaxPool2d(Tensor.Zeros(1, 4, 4), 2));
        Mentions(e, "max_pool2d", "'input'", "4-d", "[1, 4, 4]");
        e = Assert.Throws<TensorShapeException>(() => F.GlobalAvgPool2d(Tensor.Zeros(2, 3, 4, 4, 1)));
        Mentions(e, "adaptive_avg_pool2d", "4-d", "[2, 3, 4, 4, 1]");
        e = Assert.Throws<TensorShapeException>(() => F.Interpolate(Tensor.Zeros(4, 4), 2.0));
        Mentions(e, "interpolate", "4-d", "[4, 4]");
        var dtype = Assert.Throws<TensorDTypeException>(() => F.AvgPool2d(Tensor.FromArray(new long[16], 1, 1, 4, 4), 2));
        Mentions(dtype, "avg_pool2d", "'input'", "float32", "int64");
    }

    [Fact]
    public void InterpolateRejectsBadSizesAndOptions()
    {
        var x = Image(1, 1, 4, 4);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => F.Interpolate(x, size: (0, 3)));
        Mentions(range, "interpolate", "'size'", "positive", "found (0, 3)");
        range = Assert.Throws<ArgumentOutOfRangeException>(() => F.Interpolate(x, -2.0));
        Mentions(range, "interpolate", "'scaleFactor'", "positive", "(-2, -2)");
        range = Assert.Throws<ArgumentOutOfRangeException>(() => F.Interpolate(x, 0.1, InterpolationMode.Bilinear));
        Mentions(range, "interpolate", "output of 0x0", "at least 1x1");
        var e = Assert.Throws<ArgumentException>(() => F.Interpolate(x));
        Mentions(e, "interpolate", "exactly one of 'size' and 'scaleFactor'", "neither");
        e = Assert.Throws<ArgumentException>(() => F.Interpolate(x, (8, 8), (2.0, 2.0)));
        Mentions(e, "interpolate", "both");
        e = Assert.Throws<ArgumentException>(() => F.Interpolate(x, 2.0, InterpolationMode.Nearest, alignCorners: true));
        Mentions(e, "interpolate", "'alignCorners'", "Bilinear", "Nearest");
    }
}
