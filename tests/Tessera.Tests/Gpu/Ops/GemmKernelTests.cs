using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Kernels.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The tiled GPU GEMM on the PTX emulator against the CPU GEMM: edge tiles, transposes by strides, broadcast batches, beta.</summary>
public class GemmKernelTests
{
    /// <summary>CPU reference through <see cref="Tessera.Kernels.Cpu.Gemm"/> (row-major, transposes by flag).</summary>
    private static unsafe float[] CpuGemm(float[] a, bool transposeA, float[] b, bool transposeB, int m, int n, int k)
    {
        var c = new float[m * n];
        fixed (float* pa = a, pb = b, pc = c)
            Tessera.Kernels.Cpu.Gemm.Run(transposeA, transposeB, m, n, k, 1f, pa, transposeA ? m : k, pb, transposeB ? k : n, 0f, pc, n);
        return c;
    }

    [Theory]
    [InlineData(5, 7, 3, false, false)]
    [InlineData(70, 65, 33, false, false)]   // partial tiles in m and n, three k steps with a partial last one
    [InlineData(66, 17, 40, true, false)]
    [InlineData(9, 67, 18, false, true)]
    [InlineData(65, 66, 17, true, true)]
    public void MatchesCpuGemm(int m, int n, int k, bool transposeA, bool transposeB)
    {
        float[] a = GpuTestSupport.RandomFloats(m * k, 11), b = GpuTestSupport.RandomFloats(k * n, 12);
        float[] expected = CpuGemm(a, transposeA, b, transposeB, m, n, k);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 7 });
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var dc = DeviceBuffer<float>.Allocate(driver, m * n);
        // A stored [k, m] when transposed: element (i, l) at l * m + i.
        var opA = transposeA ? new GemmOperand(da.View, 1, m) : GemmOperand.RowMajor(da.View, k);
        var opB = transposeB ? new GemmOperand(db.View, 1, k) : GemmOperand.RowMajor(db.View, n);
        GpuGemm.Run(launcher, opA, opB, m, n, k, 1f, 0f, dc.View);
        GpuTestSupport.AssertClose(expected, dc.ToArray(), 1e-5f, 1e-5f, $"gemm {m}x{n}x{k} tA={transposeA} tB={transposeB}");
    }

    [Theory]
    [InlineData(130, 129, 20, false, false)]   // the wide 128×128 tile: partial second tiles in m and n, two k steps
    [InlineData(9, 131, 17, true, true)]
    public void WideTileMatchesCpuGemm(int m, int n, int k, bool transposeA, bool transposeB)
    {
        float[] a = GpuTestSupport.RandomFloats(m * k, 18), b = GpuTestSupport.RandomFloats(k * n, 19);
        float[] expected = CpuGemm(a, transposeA, b, transposeB, m, n, k);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 8 });
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var dc = DeviceBuffer<float>.Allocate(driver, m * n);
        var opA = transposeA ? new GemmOperand(da.View, 1, m) : GemmOperand.RowMajor(da.View, k);
        var opB = transposeB ? new GemmOperand(db.View, 1, k) : GemmOperand.RowMajor(db.View, n);
        GpuGemm.Run(launcher, opA, opB, m, n, k, 1f, 0f, dc.View, GemmTiling.Tile128);
        GpuTestSupport.AssertClose(expected, dc.ToArray(), 1e-5f, 1e-5f, $"wide gemm {m}x{n}x{k} tA={transposeA} tB={transposeB}");
    }

    [Fact]
    public void BatchesWithBroadcastStrideAndTwoLevels()
    {
        // A [2, 3, m, k] with the inner batch broadcast (stride 0); B [2, 3, k, n] dense.
        const int m = 6, n = 70, k = 5, outer = 2, inner = 3;
        float[] a = GpuTestSupport.RandomFloats(outer * m * k, 13), b = GpuTestSupport.RandomFloats(outer * inner * k * n, 14);
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var dc = DeviceBuffer<float>.Allocate(driver, outer * inner * m * n);
        GpuGemm.Run(launcher, new GemmOperand(da.View, k, 1, m * k, 0), new GemmOperand(db.View, n, 1, inner * k * n, k * n),
            outer, inner, m, n, k, 1f, 0f, dc.View);
        float[] actual = dc.ToArray();
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                float[] expected = CpuGemm(a[(o * m * k)..((o + 1) * m * k)], false, b[((o * inner + i) * k * n)..((o * inner + i + 1) * k * n)], false, m, n, k);
                int at = (o * inner + i) * m * n;
                GpuTestSupport.AssertClose(expected, actual.AsSpan(at, m * n), 1e-5f, 1e-5f, $"batch ({o}, {i})");
            }
    }

    [Fact]
    public void AlphaAndBetaScaleAndAccumulate()
    {
        const int m = 3, n = 4, k = 2;
        float[] a = GpuTestSupport.RandomFloats(m * k, 15), b = GpuTestSupport.RandomFloats(k * n, 16), c0 = GpuTestSupport.RandomFloats(m * n, 17);
        float[] product = CpuGemm(a, false, b, false, m, n, k);
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var dc = DeviceBuffer<float>.From(driver, c0);
        GpuGemm.Run(launcher, GemmOperand.RowMajor(da.View, k), GemmOperand.RowMajor(db.View, n), m, n, k, 2f, 0.5f, dc.View);
        GpuTestSupport.AssertClose(product.Select((p, i) => 2f * p + 0.5f * c0[i]).ToArray(), dc.ToArray(), 1e-5f, 1e-5f, "alpha·AB + beta·C");
    }

    [Fact]
    public void ZeroDepthWritesZeros()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.Allocate(driver, 1);
        using var dc = DeviceBuffer<float>.Allocate(driver, 6);
        GpuGemm.Run(launcher, GemmOperand.RowMajor(da.View, 0), GemmOperand.RowMajor(da.View, 3), 2, 3, 0, 1f, 0f, dc.View);
        Assert.Equal(new float[6], dc.ToArray());
    }
}
