using Tessera.Autograd;
using Tessera.Engine;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>
/// Functional ops on cuda-emu against the same ops on the CPU, for what the goldens do not reach:
/// other dtypes, host scalars beside GPU tensors, softmax along inner dims, errors raised from
/// device-side checks, and composed backward rules.
/// </summary>
public class FunctionalGpuTests
{
    private static readonly Device Emulated = Device.Parse("cuda-emu");

    /// <summary>Runs <paramref name="op"/> on CPU leaves and on cuda-emu copies; compares outputs and the leaves' gradients of sum(output · weights).</summary>
    private static void SameOnBothDevices(Func<Tensor[], Tensor> op, float atol, params Tensor[] inputs)
    {
        var cpuInputs = inputs.Select(t => Leaf(t, Device.Cpu)).ToArray();
        var gpuInputs = inputs.Select(t => Leaf(t, Emulated)).ToArray();
        var cpu = op(cpuInputs);
        var gpu = op(gpuInputs);
        Assert.Equal(Emulated, gpu.Device);
        Assert.Equal(cpu.DType, gpu.DType);
        Assert.Equal(cpu.Shape.ToArray(), gpu.Shape.ToArray());
        var gpuOnHost = gpu.To(Device.Cpu);
        if (cpu.DType == DType.Float32)
            GpuOpsBench.AssertClose(cpu.ToArray<float>(), gpuOnHost.ToArray<float>(), atol, 1e-5f, "output");
        else if (cpu.DType == DType.Int64)
            Assert.Equal(cpu.ToArray<long>(), gpuOnHost.ToArray<long>());
        else if (cpu.DType == DType.Bool)
            Assert.Equal(cpu.ToArray<bool>(), gpuOnHost.ToArray<bool>());
        else
            Assert.Equal(cpu.ToArray<int>(), gpuOnHost.ToArray<int>());
        if (!cpu.RequiresGrad)
            return;
        var weights = Tensor.FromArray(Enumerable.Range(0, cpu.Numel).Select(i => 0.5f + i % 7 * 0.25f).ToArray(), cpu.Shape.ToArray());
        F.Sum(cpu * weights).Backward();
        F.Sum(gpu * weights.To(Emulated)).Backward();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (cpuInputs[i].Grad is null)
                continue;
            Assert.Equal(Emulated, gpuInputs[i].Grad!.Device);
            GpuOpsBench.AssertClose(cpuInputs[i].Grad!.ToArray<float>(), gpuInputs[i].Grad!.To(Device.Cpu).ToArray<float>(), atol, 1e-4f, $"grad of input {i}");
        }
    }

    private static Tensor Leaf(Tensor t, Device device)
    {
        var leaf = t.To(device).Detach();
        if (t.DType == DType.Float32)
            leaf.RequiresGrad = true;
        return leaf;
    }

    private static Tensor Random(int seed, params int[] shape) =>
        Tensor.FromArray(GpuTestSupport.RandomFloats(shape.Aggregate(1, (a, b) => a * b), seed, -2f, 2f), shape);

    [Fact]
    public void SoftmaxAlongEveryDimWithGradients()
    {
        var x = Random(1, 3, 4, 5);
        foreach (int dim in new[] { 0, 1, -1 })
        {
            SameOnBothDevices(t => F.Softmax(t[0], dim), 1e-6f, x);
            SameOnBothDevices(t => F.LogSoftmax(t[0], dim), 1e-5f, x);
        }
    }

    [Fact]
    public void HostScalarsTravelBesideGpuTensors()
    {
        var x = Random(2, 4, 3);
        SameOnBothDevices(t => 2f - t[0] * 0.5f + 1f / (F.Abs(t[0]) + 1f) + (t[0] - 1f) / 3f, 1e-6f, x);
        SameOnBothDevices(t => F.Where(F.Greater(t[0], 0.25f), t[0], 3f), 0f, x);
        SameOnBothDevices(t => F.MaskedFill(t[0], F.LessEqual(t[0], -0.5f), -7f), 0f, x);
        SameOnBothDevices(t => F.Clamp(t[0], -1f, 0.75f) * F.Pow(t[0], 2f), 1e-6f, x);
    }

    [Fact]
    public void ReductionsWithCompositeBackwardRules()
    {
        var x = Random(3, 3, 5);
        SameOnBothDevices(t => F.Std(t[0], [1], keepDim: true) + F.Mean(t[0], [0]), 1e-5f, x);
        SameOnBothDevices(t => F.Max(t[0]) + F.Sum(F.Min(t[0], 0).Values), 0f, x);
        SameOnBothDevices(t => F.LogSumExp(t[0], [0, 1]), 1e-5f, x);
        // Inner parts of 32 and more are reduced in place as [outer, length, inner] lines.
        var wide = Random(7, 2, 3, 40);
        SameOnBothDevices(t => F.Sum(t[0], [0]) + F.Var(t[0], [0, 1]) - F.LogSumExp(t[0], 0), 1e-5f, wide);
        SameOnBothDevices(t => F.Max(t[0], 1).Values * F.ToFloat(F.Argmin(t[0], 1)), 1e-6f, wide);
        // Longer lines than that go through the permuted rows; one long row is summed in two passes.
        SameOnBothDevices(t => F.Sum(t[0], [0]), 1e-5f, Random(8, 70, 33));
        SameOnBothDevices(t => F.Mean(t[0]), 1e-6f, Random(9, 16_484));
        // Broadcast gradients sum back to each operand's shape on the device.
        var row = Random(4, 1, 5);
        SameOnBothDevices(t => t[0] * t[1] - F.Maximum(t[0], t[1]), 1e-5f, x, row);
    }

    [Fact]
    public void CastsComparisonsAndLogicOnOtherDtypes()
    {
        var x = Tensor.FromArray(new[] { -2.5f, 0f, 1.5f, 3f, -0.5f, 7.9f }, 2, 3);
        SameOnBothDevices(t => F.ToLong(t[0]), 0f, x);
        SameOnBothDevices(t => F.ToFloat(F.ToLong(t[0])) + F.ToFloat(F.Greater(t[0], 0f)), 0f, x);
        SameOnBothDevices(t => F.LogicalAnd(F.Greater(t[0], -1f), F.LogicalNot(F.Equal(t[0], 3f))), 0f, x);
        SameOnBothDevices(t => F.Argmax(t[0], 1), 0f, x);
        SameOnBothDevices(t => F.Argmin(t[0]), 0f, x);
        var ints = Tensor.FromArray(new[] { 4, -1, 9, 2, 2, 0 }, 3, 2);
        SameOnBothDevices(t => F.ToFloat(t[0]) * 2f, 0f, ints);
    }

    [Fact]
    public void CopiesMoveEveryDtype()
    {
        var longs = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (long)i << 34).ToArray(), 2, 3, 4);
        SameOnBothDevices(t => F.Flip(t[0], 0, 2), 0f, longs);
        SameOnBothDevices(t => F.Roll(t[0], [1, -2], [1, 2]), 0f, longs);
        SameOnBothDevices(t => F.IndexSelect(t[0], 2, Tensor.FromArray(new long[] { 3, 0, 3 }, 3).To(t[0].Device)), 0f, longs);
        var flags = F.Greater(Random(5, 2, 3), 0f);
        SameOnBothDevices(t => F.Cat([t[0], F.Flip(t[0], 1)], 1), 0f, flags);
        var x = Random(6, 4, 6);
        SameOnBothDevices(t => F.Stack([t[0].Transpose(0, 1), F.Cat(F.Chunk(t[0], 2, 1), 0).Reshape(6, 4)], 0), 0f, x);
    }

    [Fact]
    public void OutOfRangeIndicesOnTheDeviceNameTheirPosition()
    {
        var weight = Tensor.Zeros([5, 3], DType.Float32, Emulated);
        var indices = Tensor.FromArray(new long[] { 0, 4, 5, 1 }, 4).To(Emulated);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.Embedding(indices, weight));
        Assert.Contains("found 5 at flat position 2", error.Message, StringComparison.Ordinal);
        var mixed = Assert.Throws<TensorDeviceException>(() => F.Gather(Tensor.Zeros(2, 2), 0, Tensor.FromArray(new long[] { 0, 1, 1, 0 }, 2, 2).To(Emulated)));
        Assert.Contains("cuda-emu", mixed.Message, StringComparison.Ordinal);
    }
}
