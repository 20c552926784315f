using Tessera.Kernels.Gpu;
using Xunit;
using CpuReduce = Tessera.Kernels.Cpu.Reduce;
using CpuSoftmax = Tessera.Kernels.Cpu.Softmax;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>Reductions and softmax on the emulator against the CPU kernels, through each launch shape.</summary>
public unsafe class ReduceGpuKernelTests
{
    // (rows, length): lane groups of 1..32 threads, a warp per row, and a block (256 threads) per long row.
    public static TheoryData<int, int> RowShapes => new() { { 7, 5 }, { 5, 1 }, { 3, 37 }, { 2, 4100 } };

    [Theory]
    [MemberData(nameof(RowShapes))]
    public void RowReductionsMatchCpu(int rows, int length)
    {
        float[] x = GpuTestSupport.RandomFloats(rows * length, rows * 31 + length, -3f, 3f);
        using var bench = new GpuOpsBench();
        var input = bench.Upload(x);
        var lines = new LineLayout(rows, length, 1);

        var sum = new float[rows];
        fixed (float* px = x, ps = sum)
            CpuReduce.Sum(px, rows, length, ps);
        var output = bench.Allocate<float>(rows);
        GpuReduce.Sum(bench.Launcher, input.View, lines, output.View);
        GpuOpsBench.AssertClose(sum, output.ToArray(), 1e-4f, 1e-5f, "sum");

        var lse = new float[rows];
        fixed (float* px = x, pl = lse)
            CpuReduce.LogSumExp(px, rows, length, pl);
        GpuReduce.LogSumExp(bench.Launcher, input.View, lines, output.View);
        GpuOpsBench.AssertClose(lse, output.ToArray(), 2e-6f, 2e-6f, "logsumexp");

        var variance = new float[rows];
        var mean = new float[rows];
        fixed (float* px = x, pv = variance, pm = mean)
            CpuReduce.Variance(px, rows, length, 1, pv, pm);
        var gpuMean = bench.Allocate<float>(rows);
        GpuReduce.Variance(bench.Launcher, input.View, lines, 1, output.View, gpuMean.View);
        GpuOpsBench.AssertClose(variance, output.ToArray(), 1e-5f, 1e-5f, "variance");
        GpuOpsBench.AssertClose(mean, gpuMean.ToArray(), 1e-6f, 1e-5f, "mean");
    }

    [Theory]
    [MemberData(nameof(RowShapes))]
    public void MaxAndMinWithIndicesMatchCpu(int rows, int length)
    {
        // Few distinct values so that ties are common; row 1 gets NaNs (the first one wins).
        float[] x = Enumerable.Range(0, rows * length).Select(i => (float)((i * 7919) % 5)).ToArray();
        if (rows > 1 && length > 3)
        {
            x[length + 2] = float.NaN;
            x[length + length - 1] = float.NaN;
        }
        using var bench = new GpuOpsBench();
        var input = bench.Upload(x);
        var values = bench.Allocate<float>(rows);
        var indices = bench.Allocate<long>(rows);
        foreach (bool max in new[] { true, false })
        {
            var expectedValues = new float[rows];
            var expectedIndices = new long[rows];
            fixed (float* px = x, pv = expectedValues)
            fixed (long* pi = expectedIndices)
                CpuReduce.MaxOrMin(px, rows, length, max, pv, pi);
            GpuReduce.Extreme(bench.Launcher, input.View, new LineLayout(rows, length, 1), max, values.View, indices.View);
            GpuOpsBench.AssertClose(expectedValues, values.ToArray(), 0f, 0f, max ? "max" : "min");
            Assert.Equal(expectedIndices, indices.ToArray());
        }
    }

    [Fact]
    public void LinesWithInnerStrideReduceColumns()
    {
        // [outer 3, length 4, inner 5]: one thread per (outer, inner) line.
        float[] x = GpuTestSupport.RandomFloats(60, 8);
        x[7] = float.NegativeInfinity;
        var expectedSum = new float[15];
        var expectedMax = new float[15];
        var expectedIndex = new long[15];
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 5; i++)
            {
                int line = o * 5 + i;
                expectedMax[line] = float.NegativeInfinity;
                for (int k = 0; k < 4; k++)
                {
                    float v = x[o * 20 + k * 5 + i];
                    expectedSum[line] += v;
                    if (v > expectedMax[line]) (expectedMax[line], expectedIndex[line]) = (v, k);
                }
            }
        using var bench = new GpuOpsBench();
        var input = bench.Upload(x);
        var lines = new LineLayout(3, 4, 5);
        var output = bench.Allocate<float>(15);
        var indices = bench.Allocate<long>(15);
        GpuReduce.Sum(bench.Launcher, input.View, lines, output.View);
        GpuOpsBench.AssertClose(expectedSum, output.ToArray(), 1e-6f, 1e-6f, "column sums");
        GpuReduce.Extreme(bench.Launcher, input.View, lines, true, output.View, indices.View);
        Assert.Equal(expectedMax, output.ToArray());
        Assert.Equal(expectedIndex, indices.ToArray());
    }

    [Fact]
    public void LogSumExpPassesInfinitiesThrough()
    {
        float[] x = [float.NegativeInfinity, float.NegativeInfinity, 1f, float.PositiveInfinity, 0f, 1f, 2f, 3f];
        var expected = new float[4];
        fixed (float* px = x, pe = expected)
            CpuReduce.LogSumExp(px, 4, 2, pe);
        using var bench = new GpuOpsBench();
        var output = bench.Allocate<float>(4);
        GpuReduce.LogSumExp(bench.Launcher, bench.Upload(x).View, new LineLayout(4, 2, 1), output.View);
        GpuOpsBench.AssertClose(expected, output.ToArray(), 1e-6f, 1e-6f, "logsumexp with infinities");
    }

    // (outer, size, inner)
    public static TheoryData<int, int, int> SoftmaxShapes => new() { { 6, 10, 1 }, { 2, 3, 4 }, { 1, 5000, 1 }, { 3, 1, 1 } };

    [Theory]
    [MemberData(nameof(SoftmaxShapes))]
    public void SoftmaxForwardAndBackwardMatchCpu(int outer, int size, int inner)
    {
        int count = outer * size * inner;
        float[] x = GpuTestSupport.RandomFloats(count, count, -5f, 5f);
        float[] g = GpuTestSupport.RandomFloats(count, count + 1);
        if (size > 1)
            x[0] = float.NegativeInfinity;
        using var bench = new GpuOpsBench();
        var input = bench.Upload(x);
        var gradOutput = bench.Upload(g);
        var y = bench.Allocate<float>(count);
        var gradInput = bench.Allocate<float>(count);
        foreach (bool logarithm in new[] { false, true })
        {
            var expectedY = new float[count];
            var expectedGrad = new float[count];
            fixed (float* px = x, pg = g, py = expectedY, pgi = expectedGrad)
            {
                CpuSoftmax.Forward(px, outer, size, inner, logarithm, py);
                CpuSoftmax.Backward(pg, py, outer, size, inner, logarithm, pgi);
            }
            GpuSoftmax.Forward(bench.Launcher, input.View, outer, size, inner, logarithm, y.View);
            GpuOpsBench.AssertClose(expectedY, y.ToArray(), 1e-6f, 1e-5f, logarithm ? "log_softmax" : "softmax");
            GpuSoftmax.Backward(bench.Launcher, gradOutput.View, y.View, outer, size, inner, logarithm, gradInput.View);
            GpuOpsBench.AssertClose(expectedGrad, gradInput.ToArray(), 1e-5f, 1e-4f, logarithm ? "log_softmax backward" : "softmax backward");
        }
    }
}
