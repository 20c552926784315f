using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Ilgpu;

/// <summary>
/// A differentiable op whose forward and backward are ILGPU kernels: a <see cref="CustomFunction"/>
/// that runs <see cref="ForwardGpu"/>/<see cref="BackwardGpu"/> (which launch kernels with
/// <see cref="IlgpuLaunch"/>) on cuda and cuda-emu tensors, and the C# CPU implementation on CPU
/// tensors when one is given (<see cref="HasCpuImplementation"/>); without one a CPU tensor is a
/// clear error. Apply it as any custom function: <c>new MyOp().Apply(a, b)</c>.
/// </summary>
public abstract class IlgpuFunction : CustomFunction
{
    /// <summary>Whether <see cref="ForwardCpu"/> and <see cref="BackwardCpu"/> are implemented.</summary>
    protected virtual bool HasCpuImplementation => false;

    protected abstract Tensor ForwardGpu(FunctionContext context, Tensor[] inputs);

    protected abstract Tensor?[] BackwardGpu(FunctionContext context, Tensor gradOutput);

    protected virtual Tensor ForwardCpu(FunctionContext context, Tensor[] inputs) => throw new NotSupportedException();

    protected virtual Tensor?[] BackwardCpu(FunctionContext context, Tensor gradOutput) => throw new NotSupportedException();

    protected sealed override Tensor Forward(FunctionContext context, Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length == 0)
            throw new ArgumentException($"{Name}: expected at least one input tensor", nameof(inputs));
        Device device = inputs[0].Device;
        for (int i = 1; i < inputs.Length; i++)
            if (inputs[i].Device != device)
                throw new TensorDeviceException($"{Name}: input 0 is on {device} and input {i} on {inputs[i].Device}; move them to one device");
        if (device.IsGpu)
            return ForwardGpu(context, inputs);
        if (!HasCpuImplementation)
            throw new TensorDeviceException($"{Name}: its ILGPU kernels run on cuda or cuda-emu, and the inputs are on {device}; move them with To(Device.Parse(\"cuda-emu\")) (or \"cuda\"), or give the op a C# CPU implementation (override HasCpuImplementation, ForwardCpu and BackwardCpu)");
        return ForwardCpu(context, inputs);
    }

    protected sealed override Tensor?[] Backward(FunctionContext context, Tensor gradOutput)
    {
        ArgumentNullException.ThrowIfNull(gradOutput);
        return gradOutput.Device.IsGpu ? BackwardGpu(context, gradOutput) : BackwardCpu(context, gradOutput);
    }
}
