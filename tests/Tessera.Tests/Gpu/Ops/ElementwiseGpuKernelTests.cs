using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;
using Xunit;
using CpuElementwise = Tessera.Kernels.Cpu.Elementwise;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The elementwise GPU kernels on the emulator against the CPU kernels, on tiny shapes.</summary>
public unsafe class ElementwiseGpuKernelTests
{
    private static readonly UnaryOp[] s_forwardOps = Enum.GetValues<UnaryOp>();
    private static readonly UnaryOp[] s_backwardOps = [UnaryOp.Abs, UnaryOp.Log, UnaryOp.Relu, UnaryOp.GeluErf, UnaryOp.GeluTanh, UnaryOp.Silu];

    private static float[] Inputs(UnaryOp op, int count, int seed)
    {
        float[] x = GpuTestSupport.RandomFloats(count, seed, -4f, 4f);
        if (op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt)
            x = x.Select(v => MathF.Abs(v) + 0.05f).ToArray();
        if (op is UnaryOp.Relu or UnaryOp.Sign or UnaryOp.Abs)
            x[1] = 0f;
        return x;
    }

    [Fact]
    public void MapMatchesCpuForEveryUnaryOp()
    {
        using var bench = new GpuOpsBench();
        foreach (UnaryOp op in s_forwardOps)
        {
            float[] x = Inputs(op, 300, (int)op + 1);
            var expected = new float[x.Length];
            fixed (float* px = x, py = expected)
                Unary.Run(op, px, py, x.Length);
            var output = bench.Allocate<float>(x.Length);
            GpuElementwise.Map(bench.Launcher, op, bench.Upload(x).View, StridedIndex.Create([x.Length], [1]), output.View);
            GpuOpsBench.AssertClose(expected, output.ToArray(), 1e-6f, 3e-6f, $"GPU {op}");
        }
    }

    [Fact]
    public void MapsSaturateAtInfinities()
    {
        float[] x = [float.NegativeInfinity, float.PositiveInfinity, -200f, 200f];
        using var bench = new GpuOpsBench();
        var input = bench.Upload(x);
        var output = bench.Allocate<float>(x.Length);
        foreach (UnaryOp op in new[] { UnaryOp.Exp, UnaryOp.Sigmoid, UnaryOp.Tanh, UnaryOp.Silu, UnaryOp.GeluTanh })
        {
            var expected = x.Select(v => Unary.Scalar(op, v)).ToArray();
            GpuElementwise.Map(bench.Launcher, op, input.View, StridedIndex.Create([x.Length], [1]), output.View);
            GpuOpsBench.AssertClose(expected, output.ToArray(), 0f, 1e-6f, $"GPU {op} at ±inf and ±200");
        }
    }

    [Fact]
    public void MapReadsAStridedInput()
    {
        // x is [4, 6] read as its transpose [6, 4]: strides (1, 6).
        float[] x = GpuTestSupport.RandomFloats(24, 11);
        var transposed = new float[24];
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 4; c++)
                transposed[r * 4 + c] = x[c * 6 + r];
        var expected = new float[24];
        fixed (float* pt = transposed, pe = expected)
            Unary.Run(UnaryOp.Tanh, pt, pe, 24);
        using var bench = new GpuOpsBench();
        var output = bench.Allocate<float>(24);
        GpuElementwise.Map(bench.Launcher, UnaryOp.Tanh, bench.Upload(x).View, StridedIndex.Create([6, 4], [1, 6]), output.View);
        GpuOpsBench.AssertClose(expected, output.ToArray(), 1e-6f, 1e-6f, "tanh of a transposed view");
    }

    [Fact]
    public void MapBackwardMatchesCpu()
    {
        using var bench = new GpuOpsBench();
        foreach (UnaryOp op in s_backwardOps)
        {
            float[] x = Inputs(op, 200, (int)op + 20);
            float[] g = GpuTestSupport.RandomFloats(200, (int)op + 40);
            var expected = new float[x.Length];
            fixed (float* px = x, pg = g, pe = expected)
                Unary.Backward(op, px, pg, pe, x.Length);
            var gradInput = bench.Allocate<float>(x.Length);
            GpuElementwise.MapBackward(bench.Launcher, op, bench.Upload(x).View, bench.Upload(g).View, gradInput.View);
            GpuOpsBench.AssertClose(expected, gradInput.ToArray(), 2e-6f, 3e-6f, $"GPU {op} backward");
        }
    }

    [Fact]
    public void ClampAndScalarPowerMatchCpu()
    {
        float[] x = GpuTestSupport.RandomFloats(150, 9, -3f, 3f);
        x[3] = float.NaN;
        x[4] = 0f;
        using var bench = new GpuOpsBench();
        var input = bench.Upload(x);
        var dense = StridedIndex.Create([x.Length], [1]);
        var expected = new float[x.Length];
        var output = bench.Allocate<float>(x.Length);
        fixed (float* px = x, pe = expected)
            Unary.Clamp(px, -1.5f, 0.5f, pe, x.Length);
        GpuElementwise.Clamp(bench.Launcher, input.View, dense, -1.5f, 0.5f, output.View);
        GpuOpsBench.AssertClose(expected, output.ToArray(), 0f, 0f, "clamp");
        // Integral exponents of negative bases keep their sign; fractional ones give NaN, as MathF.Pow.
        foreach (float exponent in new[] { 2f, 3f, -1f, 0.5f, 2.5f, -2f, 0f })
        {
            fixed (float* px = x, pe = expected)
                Unary.PowScalar(px, exponent, pe, x.Length);
            GpuElementwise.PowScalar(bench.Launcher, input.View, dense, exponent, output.View);
            GpuOpsBench.AssertClose(expected, output.ToArray(), 1e-6f, 4e-6f, $"pow(x, {exponent})");
        }
    }

    [Fact]
    public void BinaryBroadcastsLikeCpu()
    {
        // a [3, 1, 5] and b [4, 5] broadcast to [3, 4, 5]; then b read transposed.
        float[] a = GpuTestSupport.RandomFloats(15, 1, 0.2f, 2f), b = GpuTestSupport.RandomFloats(20, 2, -2f, 2f);
        int[] shape = [3, 4, 5], stridesA = [5, 0, 1], stridesB = [0, 5, 1];
        using var bench = new GpuOpsBench();
        var da = bench.Upload(a);
        var db = bench.Upload(b);
        var output = bench.Allocate<float>(60);
        var expected = new float[60];
        foreach (BinaryOp op in Enum.GetValues<BinaryOp>())
        {
            fixed (float* pa = a, pb = b, pe = expected)
                CpuElementwise.Binary(op, pa, stridesA, pb, stridesB, pe, shape);
            GpuElementwise.Binary(bench.Launcher, op, da.View, db.View, StridedIndex.Create(shape, stridesA, stridesB), output.View);
            GpuOpsBench.AssertClose(expected, output.ToArray(), 1e-6f, 4e-6f, $"GPU {op} broadcast");
        }
        int[] transposedB = [0, 1, 4];   // b viewed as [5, 4] transposed to [4, 5]
        fixed (float* pa = a, pb = b, pe = expected)
            CpuElementwise.Binary(BinaryOp.Subtract, pa, stridesA, pb, transposedB, pe, shape);
        GpuElementwise.Binary(bench.Launcher, BinaryOp.Subtract, da.View, db.View, StridedIndex.Create(shape, stridesA, transposedB), output.View);
        GpuOpsBench.AssertClose(expected, output.ToArray(), 0f, 0f, "sub with a transposed operand");
    }

    [Fact]
    public void BinaryWithAHostScalarMatchesCpu()
    {
        float[] x = GpuTestSupport.RandomFloats(64, 4, 0.1f, 3f);
        float[] scalar = [1.7f];
        using var bench = new GpuOpsBench();
        var input = bench.Upload(x);
        var output = bench.Allocate<float>(64);
        var expected = new float[64];
        var dense = StridedIndex.Create([64], [1]);
        foreach (BinaryOp op in Enum.GetValues<BinaryOp>())
        {
            foreach (bool left in new[] { false, true })
            {
                fixed (float* px = x, ps = scalar, pe = expected)
                {
                    if (left)
                        CpuElementwise.Binary(op, ps, [0], px, [1], pe, [64]);
                    else
                        CpuElementwise.Binary(op, px, [1], ps, [0], pe, [64]);
                }
                GpuElementwise.BinaryScalar(bench.Launcher, op, input.View, dense, scalar[0], left, output.View);
                GpuOpsBench.AssertClose(expected, output.ToArray(), 1e-6f, 4e-6f, $"GPU {op} with the scalar {(left ? "left" : "right")}");
            }
        }
    }

    [Fact]
    public void CompareAndWhereMatchCpu()
    {
        // Small integers so that ties occur; one NaN.
        float[] a = Enumerable.Range(0, 12).Select(i => (float)(i % 3)).ToArray(), b = [1f, 0f, 2f, float.NaN];
        a[5] = float.NaN;
        int[] shape = [3, 4], stridesA = [4, 1], stridesB = [0, 1];
        using var bench = new GpuOpsBench();
        var da = bench.Upload(a);
        var db = bench.Upload(b);
        var output = bench.Allocate<bool>(12);
        var expected = new bool[12];
        var index = StridedIndex.Create(shape, stridesA, stridesB);
        foreach (CompareOp op in Enum.GetValues<CompareOp>())
        {
            fixed (float* pa = a, pb = b)
            fixed (bool* pe = expected)
                CpuElementwise.Compare(op, pa, stridesA, pb, stridesB, pe, shape);
            GpuElementwise.Compare(bench.Launcher, op, da.View, db.View, index, output.View);
            Assert.Equal(expected, output.ToArray());
        }

        // where(condition [3, 1], a [3, 4], b [4]) with condition broadcast along dim 1.
        bool[] condition = [true, false, true];
        float[] x = GpuTestSupport.RandomFloats(12, 5), y = GpuTestSupport.RandomFloats(4, 6);
        int[] stridesCondition = [1, 0], stridesX = [4, 1], stridesY = [0, 1];
        var whereExpected = new float[12];
        fixed (bool* pc = condition)
        fixed (float* px = x, py = y, pe = whereExpected)
            CpuElementwise.Where(pc, stridesCondition, px, stridesX, py, stridesY, pe, shape);
        var whereOutput = bench.Allocate<float>(12);
        GpuElementwise.Where(bench.Launcher, bench.Upload(condition).View, bench.Upload(x).View, bench.Upload(y).View,
            StridedIndex.Create(shape, stridesX, stridesY, stridesCondition), whereOutput.View);
        Assert.Equal(whereExpected, whereOutput.ToArray());
    }

    [Fact]
    public void CastsFollowCSharpConversions()
    {
        using var bench = new GpuOpsBench();
        bool[] flags = [true, false, true, true, false];
        int[] ints = [-3, 0, 7, int.MaxValue, int.MinValue];
        long[] longs = [-3L, 0L, 1L << 40, long.MinValue, 123_456_789_012L];
        float[] floats = [-2.7f, -0.5f, 0f, 3.9f, 1e12f];
        Assert.Equal(flags.Select(v => v ? 1f : 0f), Cast<bool, float, BoolToFloat>(bench, flags));
        Assert.Equal(ints.Select(v => (float)v), Cast<int, float, IntToFloat>(bench, ints));
        Assert.Equal(longs.Select(v => (float)v), Cast<long, float, LongToFloat>(bench, longs));
        Assert.Equal(flags.Select(v => v ? 1L : 0L), Cast<bool, long, BoolToLong>(bench, flags));
        Assert.Equal(ints.Select(v => (long)v), Cast<int, long, IntToLong>(bench, ints));
        Assert.Equal(floats.Select(v => (long)v), Cast<float, long, FloatToLong>(bench, floats));
    }

    private static TOut[] Cast<TIn, TOut, TOp>(GpuOpsBench bench, TIn[] input)
        where TIn : unmanaged where TOut : unmanaged where TOp : IConversion<TIn, TOut>
    {
        var output = bench.Allocate<TOut>(input.Length);
        GpuElementwise.Cast<TIn, TOut, TOp>(bench.Launcher, bench.Upload(input).View, output.View);
        return output.ToArray();
    }

    [Fact]
    public void CopyWalksNegativeAndStridedViewsLikeCpu()
    {
        // Flip dims 0 and 2 of a [2, 3, 4] tensor into a dense one, then copy a [2, 2] box into a strided region.
        long[] x = Enumerable.Range(0, 24).Select(i => (long)i * 7 - 30).ToArray();
        int[] shape = [2, 3, 4], flipped = [-12, 4, -1];
        int start = 12 + 3;
        var expected = new long[24];
        fixed (long* px = x, pe = expected)
            StridedCopy.Run(px + start, flipped, pe, Shapes.ContiguousStrides(shape), shape);
        using var bench = new GpuOpsBench();
        var source = bench.Upload(x);
        var output = bench.Allocate<long>(24);
        GpuElementwise.Copy(bench.Launcher, source.View, start, StridedIndex.Create(shape, flipped, Shapes.ContiguousStrides(shape)), 24, output.View, 0);
        Assert.Equal(expected, output.ToArray());

        int[] box = [2, 2], sourceStrides = [4, 1], destinationStrides = [1, 5];
        int[] destinationInitial = Enumerable.Range(100, 20).ToArray();
        int[] destinationExpected = (int[])destinationInitial.Clone();
        int[] ints = x.Select(v => (int)v).ToArray();
        fixed (int* ps = ints, pd = destinationExpected)
            StridedCopy.Run(ps + 5, sourceStrides, pd + 3, destinationStrides, box);
        var destination = bench.Upload(destinationInitial);
        GpuElementwise.Copy(bench.Launcher, bench.Upload(ints).View, 5, StridedIndex.Create(box, sourceStrides, destinationStrides), 4, destination.View, 3);
        Assert.Equal(destinationExpected, destination.ToArray());
    }

    [Fact]
    public void StridedIndexMergesContiguousRunsAndRejectsTooManyDims()
    {
        var dense = StridedIndex.Create([2, 3, 4], [12, 4, 1], [0, 4, 1]);
        Assert.Equal(2, dense.Rank);     // dims 1 and 2 merge for both; dim 0 broadcasts B
        Assert.Equal(12, dense.Size0);
        Assert.Equal(2, dense.Size1);
        Assert.Equal(1, StridedIndex.Create([5, 1, 7], [7, 7, 1]).Rank);
        Assert.Equal(1, StridedIndex.Create([], []).Rank);
        int[] shape = [2, 2, 2, 2, 2, 2, 2], strides = [1, 2, 4, 8, 16, 32, 64];   // fully reversed: nothing merges
        var error = Assert.Throws<TensorShapeException>(() => StridedIndex.Create(shape, strides));
        Assert.Contains("Contiguous()", error.Message, StringComparison.Ordinal);
    }
}
