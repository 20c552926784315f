using System.Reflection;
using System.Runtime.InteropServices;
using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu.Samples;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>Each sample kernel on the emulator against a plain C# reference (and run as C# where legal).</summary>
public class SampleKernelTests
{
    private static MethodInfo Kernel(Type owner, string name, params Type[] generic)
    {
        MethodInfo m = owner.GetMethod(name)!;
        return m.IsGenericMethodDefinition ? m.MakeGenericMethod(generic) : m;
    }

    [Fact]
    public void MapReluAndGelu()
    {
        float[] x = GpuTestSupport.RandomFloats(777, 5, -4f, 4f);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 1 });
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, x);
        using var output = DeviceBuffer<float>.Allocate(driver, x.Length);
        launcher.Launch(Kernel(typeof(ElementwiseMap), "Map", typeof(float), typeof(Relu)), 7, 128, input, output);
        Assert.Equal(x.Select(v => MathF.Max(v, 0f)).ToArray(), output.ToArray());

        var cpu = new float[x.Length];
        var pins = new List<GCHandle>();
        DeviceSpan<float> vx = GpuTestSupport.Pin(x, pins), vy = GpuTestSupport.Pin(cpu, pins);
        CpuGrid.Launch(7, 128, () => ElementwiseMap.Map<float, Relu>(vx, vy));
        GpuTestSupport.Unpin(pins);
        Assert.Equal(cpu, output.ToArray());

        launcher.Launch(Kernel(typeof(ElementwiseMap), "Map", typeof(float), typeof(GeluTanh)), 7, 128, input, output);
        float[] gelu = x.Select(v => (float)(0.5 * v * (1 + Math.Tanh(0.7978845608 * (v + 0.044715 * v * v * v))))).ToArray();
        GpuTestSupport.AssertClose(gelu, output.ToArray(), 1e-6f, 1e-6f, "GELU(tanh) on the emulator");
    }

    [Fact]
    public void MapIsMonomorphisedPerElementType()
    {
        int[] xi = Enumerable.Range(-50, 100).ToArray();
        double[] xd = xi.Select(v => v * 0.37).ToArray();
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var inputI = DeviceBuffer<int>.From(driver, xi);
        using var outputI = DeviceBuffer<int>.Allocate(driver, xi.Length);
        CompiledKernel intKernel = launcher.Launch(Kernel(typeof(ElementwiseMap), "Map", typeof(int), typeof(Square<int>)), 1, 128, inputI, outputI);
        Assert.Equal(xi.Select(v => v * v).ToArray(), outputI.ToArray());
        Assert.Contains("mul.lo.s32", intKernel.Ptx, StringComparison.Ordinal);

        using var inputD = DeviceBuffer<double>.From(driver, xd);
        using var outputD = DeviceBuffer<double>.Allocate(driver, xd.Length);
        CompiledKernel doubleKernel = launcher.Launch(Kernel(typeof(ElementwiseMap), "Map", typeof(double), typeof(Square<double>)), 1, 128, inputD, outputD);
        Assert.Equal(xd.Select(v => v * v).ToArray(), outputD.ToArray());
        Assert.Contains("mul.rn.f64", doubleKernel.Ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void ZipMatchesPlainCSharp()
    {
        float[] a = GpuTestSupport.RandomFloats(300, 6), b = GpuTestSupport.RandomFloats(300, 7);
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var output = DeviceBuffer<float>.Allocate(driver, a.Length);
        launcher.Launch(Kernel(typeof(ElementwiseMap), "Zip", typeof(float), typeof(MultiplyAddOne<float>)), 3, 128, da, db, output);

        var cpu = new float[a.Length];
        var pins = new List<GCHandle>();
        DeviceSpan<float> va = GpuTestSupport.Pin(a, pins), vb = GpuTestSupport.Pin(b, pins), vo = GpuTestSupport.Pin(cpu, pins);
        CpuGrid.Launch(3, 128, () => ElementwiseMap.Zip<float, MultiplyAddOne<float>>(va, vb, vo));
        GpuTestSupport.Unpin(pins);
        Assert.Equal(a.Zip(b, (x, y) => x * y + 1f).ToArray(), cpu);
        Assert.Equal(cpu, output.ToArray());
    }

    [Theory]
    [InlineData(false, 10_000, 8)]
    [InlineData(true, 5_000, 4)]
    public void BlockReductionSums(bool dynamicShared, int count, int blocks)
    {
        float[] x = GpuTestSupport.RandomFloats(count, 8);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 3 });
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, x);
        using var partial = DeviceBuffer<float>.Allocate(driver, blocks);
        if (dynamicShared)
        {
            CompiledKernel k = KernelCompiler.Compile(Kernel(typeof(BlockReduce), nameof(BlockReduce.SumDynamic)));
            launcher.Launch(k, blocks, 128, 128 * sizeof(float), input, partial);
        }
        else
        {
            launcher.Launch(Kernel(typeof(BlockReduce), nameof(BlockReduce.Sum)), blocks, BlockReduce.BlockSize, input, partial);
        }
        double expected = x.Sum(v => (double)v);
        double actual = partial.ToArray().Sum(v => (double)v);
        Assert.True(Math.Abs(expected - actual) <= 1e-5 * count, $"sum {actual}, expected {expected}");
    }

    [Theory]
    [InlineData(5, 70)]
    [InlineData(9, 128)]
    public void RowSoftmaxMatchesReference(int rows, int columns)
    {
        float[] x = GpuTestSupport.RandomFloats(rows * columns, 9, -6f, 6f);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 5 });
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, x);
        using var output = DeviceBuffer<float>.Allocate(driver, x.Length);
        launcher.Launch(Kernel(typeof(RowSoftmax), nameof(RowSoftmax.Forward)), (rows + 3) / 4, 128, input, rows, columns, output);
        var expected = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double max = x.Skip(r * columns).Take(columns).Max();
            double sum = x.Skip(r * columns).Take(columns).Sum(v => Math.Exp(v - max));
            for (int c = 0; c < columns; c++)
                expected[r * columns + c] = (float)(Math.Exp(x[r * columns + c] - max) / sum);
        }
        GpuTestSupport.AssertClose(expected, output.ToArray(), 1e-7f, 2e-6f, "row softmax");
    }

    [Fact]
    public void HistogramCountsExactly()
    {
        var random = new Random(10);
        byte[] values = new byte[5000];
        random.NextBytes(values);
        int[] expected = new int[Histogram.BinCount];
        foreach (byte v in values)
            expected[v]++;
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 11 });
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<byte>.From(driver, values);
        using var bins = DeviceBuffer<int>.Allocate(driver, Histogram.BinCount);
        driver.Memset(bins.Pointer, 0, Histogram.BinCount * sizeof(int));
        launcher.Launch(Kernel(typeof(Histogram), nameof(Histogram.Bytes)), 4, 256, input, bins);
        Assert.Equal(expected, bins.ToArray());

        driver.Memset(bins.Pointer, 0, Histogram.BinCount * sizeof(int));
        launcher.Launch(Kernel(typeof(Histogram), nameof(Histogram.BytesGlobal)), (values.Length + 255) / 256, 256, input, bins);
        Assert.Equal(expected, bins.ToArray());

        int[] cpu = new int[Histogram.BinCount];
        var pins = new List<GCHandle>();
        DeviceSpan<byte> vv = GpuTestSupport.Pin(values, pins);
        DeviceSpan<int> vb = GpuTestSupport.Pin(cpu, pins);
        CpuGrid.Launch((values.Length + 255) / 256, 256, () => Histogram.BytesGlobal(vv, vb));
        GpuTestSupport.Unpin(pins);
        Assert.Equal(expected, cpu);
    }

    [Theory]
    [InlineData(32, 32, 32)]
    [InlineData(45, 37, 29)]
    public void SgemmMatchesTripleLoop(int rows, int inner, int columns)
    {
        float[] a = GpuTestSupport.RandomFloats(rows * inner, 12), b = GpuTestSupport.RandomFloats(inner * columns, 13);
        var expected = new float[rows * columns];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++)
            {
                float sum = 0f;
                for (int k = 0; k < inner; k++)
                    sum += a[i * inner + k] * b[k * columns + j];
                expected[i * columns + j] = sum;
            }
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 13 });
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var dc = DeviceBuffer<float>.Allocate(driver, rows * columns);
        var grid = new Dim3((columns + Sgemm.Tile - 1) / Sgemm.Tile, (rows + Sgemm.Tile - 1) / Sgemm.Tile);
        CompiledKernel compiled = launcher.Launch(Kernel(typeof(Sgemm), nameof(Sgemm.SharedRegisterTiled)), grid, new Dim3(Sgemm.ThreadsPerSide, Sgemm.ThreadsPerSide), da, db, rows, inner, columns, dc);
        // Same summation order as the reference (k ascending, mul then add), so the result is exact.
        Assert.Equal(expected, dc.ToArray());
        // The register tile was promoted to registers: no .local memory is left.
        Assert.DoesNotContain(".local", compiled.Ptx, StringComparison.Ordinal);
    }
}
