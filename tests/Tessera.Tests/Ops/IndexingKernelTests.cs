using Tessera.Autograd;
using Tessera.Engine.Threading;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>
/// The indexing kernels on shapes large enough to split across threads, against plain loops
/// (the goldens are too small to leave the serial path), and with one thread vs many.
/// </summary>
public sealed class IndexingKernelTests
{
    private static float[] Random(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static long[] RandomIndices(int count, int high, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (long)random.Next(high)).ToArray();
    }

    private static void AssertNear(float[] expected, float[] actual, float tolerance = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(MathF.Abs(expected[i] - actual[i]) <= tolerance * (1 + MathF.Abs(expected[i]))))
                Assert.Fail($"element {i}: expected {expected[i]}, found {actual[i]}");
    }

    [Fact]
    public void EmbeddingBackwardMatchesLoopWithPaddingAndRepeats()
    {
        const int rows = 40, width = 700, count = 500, padding = 3;
        var indices = RandomIndices(count, rows, 1);
        var weightData = Random(rows * width, 2);
        var gradData = Random(count * width, 3);
        var weight = Tensor.FromArray(weightData, rows, width).RequireGrad();
        var y = F.Embedding(Tensor.FromArray(indices, count), weight, padding);
        y.Backward(Tensor.FromArray(gradData, count, width));

        var expectedY = new float[count * width];
        var expectedGrad = new float[rows * width];
        for (int j = 0; j < count; j++)
            for (int c = 0; c < width; c++)
            {
                expectedY[j * width + c] = weightData[indices[j] * width + c];
                if (indices[j] != padding) expectedGrad[indices[j] * width + c] += gradData[j * width + c];
            }
        AssertNear(expectedY, y.ToArray(), 0f);
        AssertNear(expectedGrad, weight.Grad!.ToArray());
        Assert.All(weight.Grad!.Select(0, padding).ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void GatherAndScatterAddMatchLoops(int dim)
    {
        const int rows = 300, columns = 200, indexRows = 300, indexColumns = 400;
        int[] indexShape = dim == 0 ? [indexRows + 100, columns] : [rows, indexColumns];
        int size = dim == 0 ? rows : columns;
        int indexCount = indexShape[0] * indexShape[1];
        var xData = Random(rows * columns, 4);
        var index = RandomIndices(indexCount, size, 5);
        var srcData = Random(indexCount, 6);
        var x = Tensor.FromArray(xData, rows, columns);
        var indexTensor = Tensor.FromArray(index, indexShape);

        var expectedGather = new float[indexCount];
        var expectedScatter = (float[])xData.Clone();
        for (int r = 0; r < indexShape[0]; r++)
            for (int c = 0; c < indexShape[1]; c++)
            {
                int k = r * indexShape[1] + c;
                long target = dim == 0 ? index[k] * columns + c : r * columns + index[k];
                expectedGather[k] = xData[target];
                expectedScatter[target] += srcData[k];
            }

        float[] gathered, scattered, gatheredSerial, scatteredSerial;
        gathered = F.Gather(x, dim, indexTensor).ToArray();
        scattered = F.ScatterAdd(x, dim, indexTensor, Tensor.FromArray(srcData, indexShape)).ToArray();
        using (CpuParallel.WithThreads(1))
        {
            gatheredSerial = F.Gather(x, dim, indexTensor).ToArray();
            scatteredSerial = F.ScatterAdd(x, dim, indexTensor, Tensor.FromArray(srcData, indexShape)).ToArray();
        }
        AssertNear(expectedGather, gathered, 0f);
        AssertNear(expectedScatter, scattered);
        Assert.Equal(gatheredSerial, gathered);
        Assert.Equal(scatteredSerial, scattered);
    }

    [Fact]
    public void ReflectPadMatchesLoopForwardAndBackward()
    {
        const int planes = 64, height = 30, width = 33, pad = 4;
        var xData = Random(planes * height * width, 7);
        var x = Tensor.FromArray(xData, planes, height, width).RequireGrad();
        var y = F.Pad(x, [pad, pad - 1, pad - 2, pad], PaddingMode.Reflect);
        int outHeight = height + 2 * pad - 2, outWidth = width + 2 * pad - 1;
        var gradData = Random(planes * outHeight * outWidth, 8);
        y.Backward(Tensor.FromArray(gradData, planes, outHeight, outWidth));

        static int Reflect(int i, int n) => i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
        var expectedY = new float[gradData.Length];
        var expectedGrad = new float[xData.Length];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < outHeight; i++)
                for (int j = 0; j < outWidth; j++)
                {
                    int source = (p * height + Reflect(i - (pad - 2), height)) * width + Reflect(j - pad, width);
                    int k = (p * outHeight + i) * outWidth + j;
                    expectedY[k] = xData[source];
                    expectedGrad[source] += gradData[k];
                }
        AssertNear(expectedY, y.ToArray(), 0f);
        AssertNear(expectedGrad, x.Grad!.ToArray());
    }

    [Fact]
    public void ScatterAddGivesZeroGradientWhereIndexDoesNotReachSource()
    {
        // PyTorch rejects this backward; Tessera pads the gathered gradient with zeros.
        var src = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 1, 4).RequireGrad();
        var y = F.ScatterAdd(Tensor.Zeros(1, 3), 1, Tensor.FromArray(new long[] { 2, 2 }, 1, 2), src);
        Assert.Equal(new[] { 0f, 0f, 3f }, y.ToArray());
        y.Backward(Tensor.FromArray(new[] { 5f, 6f, 7f }, 1, 3));
        Assert.Equal(new[] { 7f, 7f, 0f, 0f }, src.Grad!.ToArray());
    }

    [Fact]
    public void RollAndFlipOfLargeTensorsRoundTrip()
    {
        var data = Random(64 * 48 * 20, 9);
        var x = Tensor.FromArray(data, 64, 48, 20);
        var back = F.Roll(F.Roll(x, [5, -7, 33], [0, 1, 2]), [-5, 7, -33], [0, 1, 2]);
        Assert.Equal(data, back.ToArray());
        Assert.Equal(data, F.Flip(F.Flip(x, 0, 2), 2, 0).ToArray());
        var flipped = F.Flip(x, 1).ToArray();
        Assert.Equal(data[(3 * 48 + 47) * 20 + 5], flipped[(3 * 48 + 0) * 20 + 5]);
    }

    [Fact]
    public void InstanceShortcutsMatchFunctional()
    {
        var x = Tensor.FromArray(Random(24, 10), 2, 3, 4);
        Assert.Equal(F.Roll(x, [-2], null).ToArray(), x.Roll(-2).ToArray());
        Assert.Equal(F.Roll(x, [1], [2]).ToArray(), x.Roll(1, 2).ToArray());
        Assert.Equal(F.Flip(x, 0, 1).ToArray(), x.Flip(0, 1).ToArray());
        Assert.Equal([2, 1], x.Split(2, 1).Select(p => p.Size(1)));
        Assert.Equal([2, 2], x.Chunk(2, -1).Select(p => p.Size(-1)));
        var index = Tensor.FromArray(new long[] { 2, 0 });
        Assert.Equal(F.IndexSelect(x, 1, index).ToArray(), x.IndexSelect(1, index).ToArray());
    }
}
