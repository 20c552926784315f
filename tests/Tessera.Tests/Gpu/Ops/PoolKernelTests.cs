using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>
/// Pooling, resize and pad kernels on the PTX emulator against the CPU kernels. They sum in the CPU's
/// order, so forward and backward are compared bit for bit.
/// </summary>
public sealed class PoolKernelTests : IDisposable
{
    private readonly PtxEmulatorDriver _driver = new(new PtxEmulatorOptions { ShuffleSeed = 4 });
    private readonly KernelLauncher _launcher;
    private readonly List<IDisposable> _buffers = [];

    public PoolKernelTests() => _launcher = new KernelLauncher(_driver);

    public void Dispose()
    {
        foreach (IDisposable b in _buffers)
            b.Dispose();
        _launcher.Dispose();
        _driver.Dispose();
    }

    private DeviceBuffer<T> Up<T>(T[] data) where T : unmanaged
    {
        var b = DeviceBuffer<T>.From(_driver, data.Length == 0 ? new T[1] : data);
        _buffers.Add(b);
        return b;
    }

    private DeviceBuffer<T> Fresh<T>(int length) where T : unmanaged
    {
        var b = DeviceBuffer<T>.Allocate(_driver, Math.Max(1, length));
        _buffers.Add(b);
        return b;
    }

    private static Pool2dGeometry Pool(int planes, int height, int width, int kernel, int stride, int padding, int dilation, bool ceilMode)
    {
        int Size(int input)
        {
            int numerator = input + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
            int size = numerator / stride + 1;
            return ceilMode && (size - 1) * stride >= input + padding ? size - 1 : size;
        }
        return new Pool2dGeometry
        {
            PlaneCount = planes, InHeight = height, InWidth = width, OutHeight = Size(height), OutWidth = Size(width),
            KernelHeight = kernel, KernelWidth = kernel, StrideHeight = stride, StrideWidth = stride,
            PaddingHeight = padding, PaddingWidth = padding, DilationHeight = dilation, DilationWidth = dilation,
        };
    }

    [Theory]
    [InlineData(3, 2, 1, 1, false)]
    [InlineData(2, 1, 0, 2, true)]
    [InlineData(3, 2, 0, 1, true)]
    public unsafe void MaxPoolMatchesCpuWithTiesAndNaN(int kernel, int stride, int padding, int dilation, bool ceilMode)
    {
        Pool2dGeometry g = Pool(3, 7, 6, kernel, stride, padding, dilation, ceilMode);
        // Rounded values give ties (the first maximum must win); one NaN must win its windows.
        float[] x = GpuTestSupport.RandomFloats(g.PlaneCount * g.InPlane, 31, -3f, 3f).Select(v => MathF.Round(v)).ToArray();
        x[10] = float.NaN;
        float[] gy = GpuTestSupport.RandomFloats(g.PlaneCount * g.OutPlane, 32);
        var y = new float[gy.Length];
        var indices = new long[gy.Length];
        var gx = new float[x.Length];
        fixed (float* px = x, py = y, pgy = gy, pgx = gx)
        fixed (long* pi = indices)
        {
            MaxPool2d.Forward(px, g, py, pi);
            MaxPool2d.Backward(pgy, pi, g, pgx);
        }
        var dy = Fresh<float>(y.Length);
        var di = Fresh<long>(y.Length);
        var dgx = Fresh<float>(x.Length);
        GpuPool2d.MaxPoolForward(_launcher, Up(x).View, g, dy.View, di.View);
        GpuPool2d.MaxPoolBackward(_launcher, Up(gy).View, di.View, g, dgx.View);
        Assert.Equal(indices, di.ToArray());
        Assert.Equal(y, dy.ToArray());
        Assert.Equal(gx, dgx.ToArray());
    }

    [Theory]
    [InlineData(3, 2, 1, true, false)]
    [InlineData(3, 2, 1, false, true)]
    [InlineData(2, 1, 0, true, false)]
    public unsafe void AvgPoolMatchesCpu(int kernel, int stride, int padding, bool countIncludePad, bool ceilMode)
    {
        Pool2dGeometry g = Pool(2, 6, 7, kernel, stride, padding, 1, ceilMode);
        float[] x = GpuTestSupport.RandomFloats(g.PlaneCount * g.InPlane, 33);
        float[] gy = GpuTestSupport.RandomFloats(g.PlaneCount * g.OutPlane, 34);
        var y = new float[gy.Length];
        var gx = new float[x.Length];
        fixed (float* px = x, py = y, pgy = gy, pgx = gx)
        {
            AvgPool2d.Forward(px, g, countIncludePad, py);
            AvgPool2d.Backward(pgy, g, countIncludePad, pgx);
        }
        var dy = Fresh<float>(y.Length);
        var dgx = Fresh<float>(x.Length);
        GpuPool2d.AvgPoolForward(_launcher, Up(x).View, g, countIncludePad, dy.View);
        GpuPool2d.AvgPoolBackward(_launcher, Up(gy).View, g, countIncludePad, dgx.View);
        Assert.Equal(y, dy.ToArray());
        Assert.Equal(gx, dgx.ToArray());
    }

    [Theory]
    [InlineData(5, 7, 3, 4)]
    [InlineData(4, 4, 1, 1)]   // global average pooling
    [InlineData(3, 3, 5, 4)]   // more outputs than inputs: overlapping ranges
    public unsafe void AdaptiveAvgPoolMatchesCpu(int inHeight, int inWidth, int outHeight, int outWidth)
    {
        const int planes = 3;
        float[] x = GpuTestSupport.RandomFloats(planes * inHeight * inWidth, 35);
        float[] gy = GpuTestSupport.RandomFloats(planes * outHeight * outWidth, 36);
        var y = new float[gy.Length];
        var gx = new float[x.Length];
        fixed (float* px = x, py = y, pgy = gy, pgx = gx)
        {
            AvgPool2d.AdaptiveForward(px, planes, inHeight, inWidth, outHeight, outWidth, py);
            AvgPool2d.AdaptiveBackward(pgy, planes, inHeight, inWidth, outHeight, outWidth, pgx);
        }
        var dy = Fresh<float>(y.Length);
        var dgx = Fresh<float>(x.Length);
        GpuPool2d.AdaptiveForward(_launcher, Up(x).View, planes, inHeight, inWidth, outHeight, outWidth, dy.View);
        GpuPool2d.AdaptiveBackward(_launcher, Up(gy).View, planes, inHeight, inWidth, outHeight, outWidth, dgx.View);
        Assert.Equal(y, dy.ToArray());
        Assert.Equal(gx, dgx.ToArray());
    }

    [Fact]
    public unsafe void GlobalAveragePoolOfLargePlanesUsesABlockPerPlane()
    {
        // 17 x 16 = 272 elements per plane: at least GlobalBlockThreshold, so a block sums each plane (another order than the CPU).
        const int planes = 3, height = 17, width = 16;
        Assert.True(height * width >= GpuPool2d.GlobalBlockThreshold);
        float[] x = GpuTestSupport.RandomFloats(planes * height * width, 43);
        var y = new float[planes];
        fixed (float* px = x, py = y)
            AvgPool2d.AdaptiveForward(px, planes, height, width, 1, 1, py);
        var dy = Fresh<float>(planes);
        GpuPool2d.AdaptiveForward(_launcher, Up(x).View, planes, height, width, 1, 1, dy.View);
        GpuTestSupport.AssertClose(y, dy.ToArray(), 1e-6f, 1e-5f, "global average");
    }

    [Theory]
    [InlineData(5, 3, 11, 7)]
    [InlineData(4, 4, 8, 8)]
    [InlineData(6, 5, 4, 3)]
    public unsafe void NearestResizeMatchesCpu(int inHeight, int inWidth, int outHeight, int outWidth)
    {
        const int planes = 2;
        int[] rows = Upsample2d.NearestIndices(inHeight, outHeight, null), columns = Upsample2d.NearestIndices(inWidth, outWidth, null);
        float[] x = GpuTestSupport.RandomFloats(planes * inHeight * inWidth, 37);
        float[] gy = GpuTestSupport.RandomFloats(planes * outHeight * outWidth, 38);
        var y = new float[gy.Length];
        var gx = new float[x.Length];
        fixed (float* px = x, py = y, pgy = gy, pgx = gx)
        {
            Upsample2d.NearestForward(px, planes, inHeight, inWidth, rows, columns, py);
            Upsample2d.NearestBackward(pgy, planes, inHeight, inWidth, rows, columns, pgx);
        }
        var dy = Fresh<float>(y.Length);
        var dgx = Fresh<float>(x.Length);
        GpuUpsample2d.Nearest(_launcher, Up(x).View, planes, inHeight, inWidth, Up(rows).View, Up(columns).View, dy.View);
        GpuUpsample2d.NearestGradient(_launcher, Up(gy).View, planes, outHeight, outWidth,
            Up(GpuUpsample2d.Runs(inHeight, rows)).View, Up(GpuUpsample2d.Runs(inWidth, columns)).View, dgx.View);
        Assert.Equal(y, dy.ToArray());
        Assert.Equal(gx, dgx.ToArray());
    }

    [Theory]
    [InlineData(4, 3, 9, 7, false)]
    [InlineData(4, 3, 9, 7, true)]
    [InlineData(7, 6, 3, 6, false)]
    public unsafe void BilinearResizeMatchesCpu(int inHeight, int inWidth, int outHeight, int outWidth, bool alignCorners)
    {
        const int planes = 2;
        LinearAxis rows = LinearAxis.Create(inHeight, outHeight, alignCorners, null), columns = LinearAxis.Create(inWidth, outWidth, alignCorners, null);
        float[] x = GpuTestSupport.RandomFloats(planes * inHeight * inWidth, 39);
        float[] gy = GpuTestSupport.RandomFloats(planes * outHeight * outWidth, 40);
        var y = new float[gy.Length];
        var gx = new float[x.Length];
        fixed (float* px = x, py = y, pgy = gy, pgx = gx)
        {
            Upsample2d.BilinearForward(px, planes, inHeight, inWidth, rows, columns, py);
            Upsample2d.BilinearBackward(pgy, planes, inHeight, inWidth, rows, columns, pgx);
        }
        DeviceLinearAxis Axis(LinearAxis a, int inSize) =>
            new(Up(a.Index0).View, Up(a.Index1).View, Up(a.Lambda0).View, Up(a.Lambda1).View, Up(GpuUpsample2d.Runs(inSize, a.Index0, a.Index1)).View);
        var dy = Fresh<float>(y.Length);
        var dgx = Fresh<float>(x.Length);
        DeviceLinearAxis deviceRows = Axis(rows, inHeight), deviceColumns = Axis(columns, inWidth);
        GpuUpsample2d.Bilinear(_launcher, Up(x).View, planes, inHeight, inWidth, deviceRows, deviceColumns, dy.View);
        GpuUpsample2d.BilinearGradient(_launcher, Up(gy).View, planes, deviceRows, deviceColumns, dgx.View);
        Assert.Equal(y, dy.ToArray());
        Assert.Equal(gx, dgx.ToArray());
    }

    [Theory]
    [InlineData(PadMode.Reflect)]
    [InlineData(PadMode.Replicate)]
    [InlineData(PadMode.Circular)]
    public unsafe void IndexedPadMatchesCpu(PadMode mode)
    {
        const int planes = 3;
        int[] sizes = [4, 5], before = [2, 1], after = [1, 3];
        int[] offsets = Pad.SourceOffsets(sizes, before, after, mode);
        int inputPlane = 20;
        float[] x = GpuTestSupport.RandomFloats(planes * inputPlane, 41);
        float[] gy = GpuTestSupport.RandomFloats(planes * offsets.Length, 42);
        var y = new float[gy.Length];
        var gx = new float[x.Length];
        fixed (float* px = x, py = y, pgy = gy, pgx = gx)
        {
            Pad.Forward(px, offsets, planes, inputPlane, py);
            Pad.Backward(pgy, offsets, planes, inputPlane, pgx);
        }
        var (starts, readers) = GpuPad.Inverse(offsets, inputPlane);
        var dy = Fresh<float>(y.Length);
        var dgx = Fresh<float>(x.Length);
        GpuPad.Run(_launcher, Up(x).View, planes, inputPlane, Up(offsets).View, 0f, dy.View);
        GpuPad.Gradient(_launcher, Up(gy).View, planes, offsets.Length, Up(starts).View, Up(readers).View, dgx.View);
        Assert.Equal(y, dy.ToArray());
        Assert.Equal(gx, dgx.ToArray());
    }

    [Fact]
    public void ConstantPadCropsAndFills()
    {
        // [2, 3] plane padded (1, -1) on rows and (-1, 2) on columns: rows [fill, row 0], columns [1, 2, fill, fill].
        int[] offsets = GpuPad.ConstantOffsets([2, 3], [1, -1], [-1, 2]);
        Assert.Equal([-1, -1, -1, -1, 1, 2, -1, -1], offsets);
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        var dy = Fresh<float>(16);
        GpuPad.Run(_launcher, Up(x).View, 2, 6, Up(offsets).View, -5f, dy.View);
        Assert.Equal([-5, -5, -5, -5, 2, 3, -5, -5, -5, -5, -5, -5, 8, 9, -5, -5], dy.ToArray());
        var (starts, readers) = GpuPad.Inverse(offsets, 6);
        var dgx = Fresh<float>(12);
        GpuPad.Gradient(_launcher, Up(Enumerable.Range(1, 16).Select(i => (float)i).ToArray()).View, 2, 8, Up(starts).View, Up(readers).View, dgx.View);
        Assert.Equal([0, 5, 6, 0, 0, 0, 0, 13, 14, 0, 0, 0], dgx.ToArray());
    }

    [Fact]
    public void RunsRejectADecreasingTable() =>
        Assert.Throws<ArgumentException>(() => GpuUpsample2d.Runs(3, [0, 2, 1]));
}
