using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Xunit;
using CpuBatchNorm = Tessera.Kernels.Cpu.BatchNorm;
using CpuLayerNorm = Tessera.Kernels.Cpu.LayerNorm;
using GpuBatchNorm = Tessera.Kernels.Gpu.BatchNorm;
using GpuLayerNorm = Tessera.Kernels.Gpu.LayerNorm;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The batch/layer/group-norm GPU kernels on the emulator against the CPU kernels (tiny shapes).</summary>
public sealed unsafe class NormKernelTests
{
    private static PtxEmulatorDriver Driver() => new(new PtxEmulatorOptions { ShuffleSeed = 11 });

    [Theory]
    [InlineData(3, 5, 7, true, true)]      // [N, C, HW] with an odd inner size
    [InlineData(40, 3, 1, false, true)]    // [N, C]: inner 1
    [InlineData(2, 2, 600, true, false)]   // several splits per channel; the Rows variants
    [InlineData(3, 2, 64, false, false)]   // the smallest inner size of the Rows variants
    public void BatchNormForwardAndBackwardMatchCpu(int batchSize, int channelCount, int innerSize, bool hasWeight, bool hasBias)
    {
        int count = batchSize * channelCount * innerSize;
        float[] x = GpuTestSupport.RandomFloats(count, 1, -2f, 3f);
        float[] gradOutput = GpuTestSupport.RandomFloats(count, 2);
        float[] weight = hasWeight ? GpuTestSupport.RandomFloats(channelCount, 3, 0.5f, 1.5f) : [];
        float[] bias = hasBias ? GpuTestSupport.RandomFloats(channelCount, 4) : [];

        // CPU reference: the statistics, normalise, gradient sums and input gradient.
        var sum = new double[channelCount];
        var squares = new double[channelCount];
        var mean = new float[channelCount];
        var invStd = new float[channelCount];
        var y = new float[count];
        var sumGrad = new double[channelCount];
        var sumGradNormalized = new double[channelCount];
        var meanGrad = new float[channelCount];
        var meanGradNormalized = new float[channelCount];
        var gradInput = new float[count];
        fixed (float* px = x, pg = gradOutput, pw = weight, pb = bias, pm = mean, ps = invStd, py = y, pmg = meanGrad, pmgx = meanGradNormalized, pgi = gradInput)
        fixed (double* s = sum, s2 = squares, sg = sumGrad, sgx = sumGradNormalized)
        {
            CpuBatchNorm.ChannelSums(px, batchSize, channelCount, innerSize, s, s2);
            long total = (long)batchSize * innerSize;
            for (int c = 0; c < channelCount; c++)
            {
                double mu = sum[c] / total;
                mean[c] = (float)mu;
                invStd[c] = (float)(1.0 / Math.Sqrt(Math.Max(squares[c] / total - mu * mu, 0) + 1e-5));
            }
            CpuBatchNorm.NormalizeAffine(px, pm, ps, hasWeight ? pw : null, hasBias ? pb : null, batchSize, channelCount, innerSize, py);
            CpuBatchNorm.GradientSums(pg, px, pm, ps, batchSize, channelCount, innerSize, sg, sgx);
            for (int c = 0; c < channelCount; c++)
            {
                meanGrad[c] = (float)(sumGrad[c] / total);
                meanGradNormalized[c] = (float)(sumGradNormalized[c] / total);
            }
            CpuBatchNorm.BackwardInput(pg, px, pm, ps, hasWeight ? pw : null, pmg, pmgx, batchSize, channelCount, innerSize, pgi);
        }

        using var driver = Driver();
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, x);
        using var dg = DeviceBuffer<float>.From(driver, gradOutput);
        using var dw = DeviceBuffer<float>.From(driver, hasWeight ? weight : [0f]);
        using var db = DeviceBuffer<float>.From(driver, hasBias ? bias : [0f]);
        using var dm = DeviceBuffer<float>.From(driver, mean);
        using var ds = DeviceBuffer<float>.From(driver, invStd);
        using var dmg = DeviceBuffer<float>.From(driver, meanGrad);
        using var dmgx = DeviceBuffer<float>.From(driver, meanGradNormalized);
        using var partials = DeviceBuffer<double>.Allocate(driver, 2 * channelCount * GpuBatchNorm.SplitCount(batchSize, innerSize));
        using var sums = DeviceBuffer<double>.Allocate(driver, 2 * channelCount);
        using var dy = DeviceBuffer<float>.Allocate(driver, count);
        using var dgi = DeviceBuffer<float>.Allocate(driver, count);
        DeviceSpan<float> w = hasWeight ? dw.View : default, b = hasBias ? db.View : default;

        GpuBatchNorm.ChannelSums(launcher, dx.View, batchSize, channelCount, innerSize, partials.View, sums.View);
        double[] gpuSums = sums.ToArray();
        AssertClose(sum, gpuSums[..channelCount], "Σx");
        AssertClose(squares, gpuSums[channelCount..], "Σx²");

        GpuBatchNorm.Normalize(launcher, dx.View, dm.View, ds.View, w, b, channelCount, innerSize, dy.View);
        Assert.Equal(y, dy.ToArray());   // same per-channel vectors, same float operations: bit for bit

        GpuBatchNorm.GradientSums(launcher, dg.View, dx.View, dm.View, batchSize, channelCount, innerSize, partials.View, sums.View);
        gpuSums = sums.ToArray();
        AssertClose(sumGrad, gpuSums[..channelCount], "Σg");
        AssertClose(sumGradNormalized, gpuSums[channelCount..].Select((v, c) => v * invStd[c]).ToArray(), "Σg·x̂");

        GpuBatchNorm.Backward(launcher, dg.View, dx.View, dm.View, ds.View, w, dmg.View, dmgx.View, channelCount, innerSize, dgi.View);
        Assert.Equal(gradInput, dgi.ToArray());
    }

    [Fact]
    public void RunningStatisticsUpdateMatchesTheCpuOrder()
    {
        float[] batchMean = GpuTestSupport.RandomFloats(37, 5), batchVariance = GpuTestSupport.RandomFloats(37, 6, 0f, 2f);
        float[] runningMean = GpuTestSupport.RandomFloats(37, 7), runningVariance = GpuTestSupport.RandomFloats(37, 8, 0f, 2f);
        const float momentum = 0.1f;
        using var driver = Driver();
        using var launcher = new KernelLauncher(driver);
        using var dbm = DeviceBuffer<float>.From(driver, batchMean);
        using var dbv = DeviceBuffer<float>.From(driver, batchVariance);
        using var drm = DeviceBuffer<float>.From(driver, runningMean);
        using var drv = DeviceBuffer<float>.From(driver, runningVariance);
        GpuBatchNorm.UpdateRunning(launcher, dbm.View, dbv.View, momentum, drm.View, drv.View);
        Assert.Equal(runningMean.Select((r, c) => r * (1f - momentum) + batchMean[c] * momentum).ToArray(), drm.ToArray());
        Assert.Equal(runningVariance.Select((r, c) => r * (1f - momentum) + batchVariance[c] * momentum).ToArray(), drv.ToArray());
    }

    [Theory]
    [InlineData(5, 48)]      // layer norm over a short row: one warp per row
    [InlineData(3, 1000)]    // group norm sized row: 256 threads, several values each
    [InlineData(4, 1)]       // a row of one value
    public void RowNormalisationMatchesCpu(int rows, int length)
    {
        float[] x = GpuTestSupport.RandomFloats(rows * length, 9, -3f, 5f);
        float[] gradOutput = GpuTestSupport.RandomFloats(rows * length, 10);
        var y = new float[x.Length];
        var mean = new float[rows];
        var rstd = new float[rows];
        var gradInput = new float[x.Length];
        fixed (float* px = x, py = y, pm = mean, ps = rstd, pg = gradOutput, pgi = gradInput)
        {
            CpuLayerNorm.Forward(px, rows, length, 1e-5f, py, pm, ps);
            CpuLayerNorm.Backward(pg, py, ps, rows, length, pgi);
        }
        using var driver = Driver();
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, x);
        using var dg = DeviceBuffer<float>.From(driver, gradOutput);
        using var dy = DeviceBuffer<float>.Allocate(driver, x.Length);
        using var dm = DeviceBuffer<float>.Allocate(driver, rows);
        using var ds = DeviceBuffer<float>.Allocate(driver, rows);
        using var dgi = DeviceBuffer<float>.Allocate(driver, x.Length);
        GpuLayerNorm.ForwardAffine(launcher, dx.View, default, default, rows, length, 1e-5f, dy.View, dm.View, ds.View);
        GpuTestSupport.AssertClose(mean, dm.ToArray(), 1e-6f, 1e-6f, "row mean");
        GpuTestSupport.AssertClose(rstd, ds.ToArray(), 1e-6f, 1e-6f, "row rstd");
        GpuTestSupport.AssertClose(y, dy.ToArray(), 1e-6f, 1e-6f, "normalised rows");
        GpuLayerNorm.BackwardAffine(launcher, dg.View, dx.View, dm.View, ds.View, default, rows, length, dgi.View);
        GpuTestSupport.AssertClose(gradInput, dgi.ToArray(), 1e-6f, 1e-6f, "row gradient");
    }

    private static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]), $"{what}[{i}]: {actual[i]}, expected {expected[i]}");
    }
}
