using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>
/// Runs a differentiable op on the CPU and on cuda-emu from the same inputs, backpropagates the same
/// output gradient (y.Backward(gradOutput), no other ops involved) and compares outputs and gradients.
/// </summary>
internal static class GpuOpCheck
{
    public static readonly Device Emulator = Device.Parse("cuda-emu");

    /// <param name="inputs">(values, shape, requires grad) per input.</param>
    /// <param name="device">cuda-emu when null.</param>
    public static void Compare(string what, Func<Tensor[], Tensor> op, (float[] Values, int[] Shape, bool Grad)[] inputs, float atol = 1e-5f, float rtol = 1e-5f, bool backward = true, Device? device = null)
    {
        var (cpuOut, cpuGrads) = Run(Device.Cpu, op, inputs, backward);
        var (gpuOut, gpuGrads) = Run(device ?? Emulator, op, inputs, backward);
        Xunit.Assert.Equal(cpuOut.ShapeArray, gpuOut.ShapeArray);
        GpuTestSupport.AssertClose(cpuOut.ToArray<float>(), gpuOut.ToArray<float>(), atol, rtol, $"{what}: output");
        for (int i = 0; i < cpuGrads.Length; i++)
        {
            if (cpuGrads[i] is null)
                continue;
            Xunit.Assert.NotNull(gpuGrads[i]);
            GpuTestSupport.AssertClose(cpuGrads[i]!.ToArray<float>(), gpuGrads[i]!.ToArray<float>(), atol, rtol, $"{what}: gradient of input {i}");
        }
    }

    public static (float[] Values, int[] Shape, bool Grad) Input(int seed, params int[] shape) =>
        (GpuTestSupport.RandomFloats(shape.Aggregate(1, (p, s) => p * s), seed), shape, true);

    private static (Tensor Output, Tensor?[] Grads) Run(Device device, Func<Tensor[], Tensor> op, (float[] Values, int[] Shape, bool Grad)[] inputs, bool backward)
    {
        var tensors = inputs.Select(i =>
        {
            var t = Tensor.FromArray(i.Values, i.Shape).To(device);
            t.RequiresGrad = backward && i.Grad;
            return t;
        }).ToArray();
        var y = op(tensors);
        if (!backward)
            return (y.To(Device.Cpu), []);
        var gradOutput = Tensor.FromArray(GpuTestSupport.RandomFloats(y.Numel, 99), y.ShapeArray).To(device);
        y.Backward(gradOutput);
        return (y.To(Device.Cpu), tensors.Select(t =>
        {
            if (t.Grad is not null && t.Grad.Device != device)
                throw new InvalidOperationException($"gradient on {t.Grad.Device}, expected {device}");
            return t.Grad?.To(Device.Cpu);
        }).ToArray());
    }
}
