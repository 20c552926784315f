using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Models.Nn;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>The GPU runtime under every op: tensors on cuda-emu, copies, views, the caching allocator, Module.To.</summary>
public class GpuTensorTests
{
    private static readonly Device Emu = Device.Parse("cuda-emu");

    [Fact]
    public void RoundTripKeepsEveryDType()
    {
        var floats = Tensor.FromArray([1.5f, -2f, 3.25f, float.NaN, 0f, 7f], 2, 3);
        var onGpu = floats.To(Emu);
        Assert.Equal(Emu, onGpu.Device);
        Assert.Equal(floats.ToArray(), onGpu.ToArray());
        Assert.Equal(floats.ToArray(), onGpu.To(Device.Cpu).ToArray());
        Assert.Equal(new long[] { 5, -9, 1L << 40 }, Tensor.FromArray(new long[] { 5, -9, 1L << 40 }).To(Emu).ToArray<long>());
        Assert.Equal(new[] { true, false, true }, Tensor.FromArray(new[] { true, false, true }).To(Emu).ToArray<bool>());
        Assert.Equal(3.25f, floats.Select(1, 2).To(Emu).Select(0, 0).Item());
    }

    [Fact]
    public void ContiguousOfStridedViewsMatchesCpu()
    {
        var x = Tensor.Arange(2 * 3 * 4 * 5).Reshape(2, 3, 4, 5);
        var g = x.To(Emu);
        Assert.Equal(x.Permute(3, 1, 0, 2).Contiguous().ToArray(), g.Permute(3, 1, 0, 2).Contiguous().ToArray());
        Assert.Equal(x.Slice(3, 1, 5, 2).Narrow(1, 1, 2).Contiguous().ToArray(), g.Slice(3, 1, 5, 2).Narrow(1, 1, 2).Contiguous().ToArray());
        Assert.Equal(x.Select(2, 3).ToArray(), g.Select(2, 3).ToArray());
        Assert.Equal(x.Expand(2, 2, 3, 4, 5).ToArray(), g.Expand(2, 2, 3, 4, 5).ToArray());
        Assert.Equal(Emu, g.Permute(3, 1, 0, 2).Contiguous().Device);
    }

    [Fact]
    public void CopyFromBroadcastsIntoStridedDestination()
    {
        var cpu = Tensor.Zeros(4, 6);
        var gpu = Tensor.Zeros([4, 6], DType.Float32, Emu);
        var row = Tensor.FromArray([1f, 2f, 3f], 3);
        cpu.Slice(1, 0, 6, 2).CopyFrom(row);
        gpu.Slice(1, 0, 6, 2).CopyFrom(row);          // source on the CPU: copied over first
        Assert.Equal(cpu.ToArray(), gpu.ToArray());
        gpu.Fill(2.5f);
        Assert.All(gpu.ToArray(), v => Assert.Equal(2.5f, v));
        Assert.All(Tensor.Full([3, 3], -1f, Emu).ToArray(), v => Assert.Equal(-1f, v));
        Assert.All(Tensor.OnesLike(gpu).ToArray(), v => Assert.Equal(1f, v));
        Assert.Equal(Emu, Tensor.OnesLike(gpu).Device);
    }

    [Fact]
    public void CachingAllocatorReusesFreedBlocks()
    {
        var context = GpuContext.For(Emu);
        var first = Tensor.Empty([1000], DType.Float32, Emu);
        ulong address = first.DeviceAddress.Address;
        first.Dispose();
        long cached = context.CachedBytes;
        Assert.True(cached >= GpuContext.BlockSize(4000));
        var second = Tensor.Empty([999], DType.Float32, Emu);   // same 512-byte-rounded block
        Assert.Equal(address, second.DeviceAddress.Address);
        Assert.Equal(cached - GpuContext.BlockSize(4000), context.CachedBytes);
        second.Dispose();
        var zeroed = Tensor.Zeros([999], DType.Float32, Emu);    // a reused block is still zeroed when asked
        Assert.All(zeroed.ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(1, 512)]
    [InlineData(512, 512)]
    [InlineData(513, 1024)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, (1 << 20) + (1 << 18))]
    [InlineData(3_000_000, 3_145_728)]
    public void BlockSizesRoundUp(long bytes, long block) => Assert.Equal(block, GpuContext.BlockSize(bytes));

    [Fact]
    public void ToIsDifferentiable()
    {
        var x = Tensor.FromArray([1f, 2f, 3f]).RequireGrad();
        var onGpu = x.To(Emu);
        var back = onGpu.To(Device.Cpu);
        Functional.Sum(back * Tensor.FromArray([4f, 5f, 6f])).Backward();
        Assert.Equal(new[] { 4f, 5f, 6f }, x.Grad!.ToArray());
        Assert.Equal(Device.Cpu, x.Grad.Device);
    }

    [Fact]
    public void ModuleToMovesParametersInPlace()
    {
        var layer = new Linear(3, 2, generator: new Tessera.Engine.Random.Generator(1));
        var weight = layer.Parameters().First();
        var before = weight.ToArray();
        layer.To(Emu);
        Assert.Same(weight, layer.Parameters().First());
        Assert.All(layer.Parameters(), p => Assert.Equal(Emu, p.Device));
        Assert.Equal(before, weight.ToArray());
        layer.To(Device.Cpu);
        Assert.Equal(Device.Cpu, weight.Device);
        Assert.Equal(before, weight.ToArray());
    }

    [Fact]
    public void MixedDevicesAndMissingGpuGiveClearErrors()
    {
        var gpu = Tensor.Zeros([2, 2], DType.Float32, Emu);
        var error = Assert.Throws<TensorDeviceException>(() => gpu.AsSpan<float>());
        Assert.Contains("cuda-emu", error.Message, StringComparison.Ordinal);
        Assert.Contains("To(", error.Message, StringComparison.Ordinal);
        if (!GpuContext.IsAvailable(Device.Parse("cuda"), out string reason))
        {
            var missing = Assert.Throws<TensorDeviceException>(() => Tensor.Zeros([2], DType.Float32, Device.Parse("cuda")));
            Assert.Contains("cuda-emu", missing.Message, StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(reason));
        }
    }

    [Fact]
    public void PrintingShowsTheDevice()
    {
        var text = Tensor.FromArray([1f, 2f]).To(Emu).ToString();
        Assert.Contains("1.0000", text, StringComparison.Ordinal);
        Assert.Contains("device='cuda-emu'", text, StringComparison.Ordinal);
    }
}
