using Tessera.Engine;
using Tessera.Kernels.Gpu;
using Xunit;
using CpuGather = Tessera.Kernels.Cpu.Gather;
using CpuIndexSelect = Tessera.Kernels.Cpu.IndexSelect;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>index_select / embedding, gather and scatter_add on the emulator against the CPU kernels.</summary>
public unsafe class IndexingGpuKernelTests
{
    [Fact]
    public void SelectForwardCopiesSlicesOfEveryWidth()
    {
        // [outer 2, size 4, inner 3] picking slices 3, 0, 3, 1 along the middle dim.
        long[] index = [3, 0, 3, 1];
        var shape = new SliceSelection { Outer = 2, Size = 4, Inner = 3, Count = 4 };
        int[] ints = Enumerable.Range(0, 24).Select(i => i * 11 - 50).ToArray();
        long[] longs = ints.Select(v => (long)v << 33).ToArray();
        byte[] bytes = ints.Select(v => (byte)v).ToArray();
        using var bench = new GpuOpsBench();
        var deviceIndex = bench.Upload(index);
        Assert.Equal(Select(ints, index), Run(bench, ints, deviceIndex.View, shape));
        Assert.Equal(Select(longs, index), Run(bench, longs, deviceIndex.View, shape));
        Assert.Equal(Select(bytes, index), Run(bench, bytes, deviceIndex.View, shape));
    }

    private static T[] Select<T>(T[] input, long[] index) where T : unmanaged
    {
        var output = new T[2 * index.Length * 3];
        fixed (T* pi = input, po = output)
        fixed (long* px = index)
            CpuIndexSelect.Forward(pi, px, 2, 4, 3, index.Length, po);
        return output;
    }

    private static T[] Run<T>(GpuOpsBench bench, T[] input, Tessera.Engine.Gpu.DeviceSpan<long> index, SliceSelection shape) where T : unmanaged
    {
        var output = bench.Allocate<T>(shape.Outer * shape.Count * shape.Inner);
        GpuIndexing.SelectForward(bench.Launcher, bench.Upload(input).View, index, shape, output.View);
        return output.ToArray();
    }

    [Fact]
    public void SelectBackwardAddsRepeatsAndSkipsThePaddingRow()
    {
        // An embedding backward: [outer 1, size 5, inner 4], indices with repeats, row 2 is padding.
        long[] index = [1, 2, 1, 4, 1, 0, 2];
        var shape = new SliceSelection { Outer = 1, Size = 5, Inner = 4, Count = index.Length };
        float[] gradOutput = GpuTestSupport.RandomFloats(index.Length * 4, 12);
        var expected = new float[20];
        fixed (float* pg = gradOutput, pe = expected)
        fixed (long* pi = index)
            CpuIndexSelect.Backward(pg, pi, 1, 5, 4, index.Length, 2, pe);
        using var bench = new GpuOpsBench();
        var gradInput = bench.Upload(new float[20]);
        GpuIndexing.SelectBackward(bench.Launcher, bench.Upload(gradOutput).View, bench.Upload(index).View, shape, 2, gradInput.View);
        GpuOpsBench.AssertClose(expected, gradInput.ToArray(), 1e-6f, 1e-6f, "embedding backward");
    }

    [Fact]
    public void GatherAndScatterAddMatchCpuOnStridedOperands()
    {
        // input [3, 4] read transposed from a [4, 3] buffer; index [2, 4] gathers along dim 0.
        float[] buffer = GpuTestSupport.RandomFloats(12, 21);
        int[] inputStrides = [1, 3];
        long[] index = [2, 0, 1, 2, 0, 0, 2, 1];
        int[] indexShape = [2, 4];
        var expected = new float[8];
        fixed (float* pb = buffer, pe = expected)
        fixed (long* pi = index)
            CpuGather.Forward(pb, inputStrides, pi, indexShape, 0, pe);
        using var bench = new GpuOpsBench();
        var deviceIndex = bench.Upload(index);
        var output = bench.Allocate<float>(8);
        int[] gatherStrides = [0, inputStrides[1]];
        GpuIndexing.Gather(bench.Launcher, bench.Upload(buffer).View, deviceIndex.View, StridedIndex.Create(indexShape, gatherStrides), inputStrides[0], output.View);
        Assert.Equal(expected, output.ToArray());

        // scatter_add of a [2, 4] source (read through a [4, 2] transpose) into a dense [3, 4] along dim 0.
        float[] source = GpuTestSupport.RandomFloats(8, 22);
        int[] sourceStrides = [1, 2];
        int[] outputStrides = Shapes.ContiguousStrides([3, 4]);
        float[] initial = GpuTestSupport.RandomFloats(12, 23);
        float[] scattered = (float[])initial.Clone();
        fixed (float* ps = source, po = scattered)
        fixed (long* pi = index)
            CpuGather.ScatterAdd(ps, sourceStrides, pi, indexShape, 0, po, outputStrides);
        var destination = bench.Upload(initial);
        int[] scatterStrides = [0, outputStrides[1]];
        GpuIndexing.ScatterAdd(bench.Launcher, bench.Upload(source).View, deviceIndex.View, StridedIndex.Create(indexShape, sourceStrides, default, scatterStrides), outputStrides[0], destination.View);
        GpuOpsBench.AssertClose(scattered, destination.ToArray(), 1e-6f, 1e-6f, "scatter_add");
    }

    [Fact]
    public void FindOutOfRangeKeepsTheEarliestBadPosition()
    {
        using var bench = new GpuOpsBench();
        Assert.Equal(int.MaxValue, FirstBad(bench, [0, 4, 2], 5));
        long[] bad = Enumerable.Range(0, 600).Select(i => (long)(i % 5)).ToArray();
        bad[517] = 5;
        bad[300] = -1;
        Assert.Equal(300, FirstBad(bench, bad, 5));
    }

    private static int FirstBad(GpuOpsBench bench, long[] index, long size)
    {
        var firstBad = bench.Upload(new[] { int.MaxValue });
        GpuIndexing.FindOutOfRange(bench.Launcher, bench.Upload(index).View, size, firstBad.View);
        return firstBad.ToArray()[0];
    }
}
