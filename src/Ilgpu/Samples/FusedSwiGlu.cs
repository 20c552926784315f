using ILGPU;
using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Ilgpu.Samples;

/// <summary>
/// Sample custom op, implicit grouping: SwiGLU, output = silu(gate) · value with
/// silu(g) = g · sigmoid(g), forward and backward each one fused elementwise ILGPU kernel.
/// </summary>
public static class FusedSwiGluKernels
{
    /// <summary>Forward: one thread per element.</summary>
    public static void Forward(
        Index1D i,
        // [count]
        ArrayView<float> gate,
        ArrayView<float> value,
        // [count]
        ArrayView<float> output)
    {
        float g = gate[i];
        float sigmoid = 1f / (1f + MathF.Exp(-g));
        output[i] = g * sigmoid * value[i];
    }

    /// <summary>Backward: overwrites gradGate and gradValue.</summary>
    public static void Backward(
        Index1D i,
        // [count]
        ArrayView<float> gate,
        ArrayView<float> value,
        ArrayView<float> gradOutput,
        // [count]
        ArrayView<float> gradGate,
        ArrayView<float> gradValue)
    {
        float g = gate[i];
        float sigmoid = 1f / (1f + MathF.Exp(-g));
        float silu = g * sigmoid;
        // d silu / dg = s + g·s·(1 − s); the fma becomes fma.rn.f32 (IlgpuIntrinsics).
        float dSilu = MathF.FusedMultiplyAdd(silu, 1f - sigmoid, sigmoid);
        float upstream = gradOutput[i];
        gradGate[i] = upstream * value[i] * dSilu;
        gradValue[i] = upstream * silu;
    }
}

/// <summary>
/// SwiGLU as a differentiable op: <c>new FusedSwiGlu().Apply(gate, value)</c>, gate and value
/// of one shape, on cuda/cuda-emu through ILGPU, on the CPU through the same formulas in C#.
/// </summary>
public sealed class FusedSwiGlu : IlgpuFunction
{
    protected override string Name => "FusedSwiGlu";

    protected override bool HasCpuImplementation => true;

    protected override Tensor ForwardGpu(FunctionContext context, Tensor[] inputs)
    {
        (Tensor gate, Tensor value) = Inputs(inputs);
        context.SaveForBackward(gate, value);
        Tensor output = Tensor.Empty(gate.Shape, DType.Float32, gate.Device);
        IlgpuLaunch.Implicit(FusedSwiGluKernels.Forward, gate.Numel, gate, value, output);
        return output;
    }

    protected override Tensor?[] BackwardGpu(FunctionContext context, Tensor gradOutput)
    {
        Tensor gate = context.SavedTensors[0], value = context.SavedTensors[1];
        Tensor gradGate = Tensor.Empty(gate.Shape, DType.Float32, gate.Device);
        Tensor gradValue = Tensor.Empty(gate.Shape, DType.Float32, gate.Device);
        IlgpuLaunch.Implicit(FusedSwiGluKernels.Backward, gate.Numel, gate, value, gradOutput.Contiguous(), gradGate, gradValue);
        return [gradGate, gradValue];
    }

    protected override Tensor ForwardCpu(FunctionContext context, Tensor[] inputs)
    {
        (Tensor gate, Tensor value) = Inputs(inputs);
        context.SaveForBackward(gate, value);
        float[] g = gate.ToArray<float>(), v = value.ToArray<float>();
        var y = new float[g.Length];
        for (int i = 0; i < g.Length; i++)
            y[i] = g[i] * (1f / (1f + MathF.Exp(-g[i]))) * v[i];
        return Tensor.FromData<float>(y, gate.Shape);
    }

    protected override Tensor?[] BackwardCpu(FunctionContext context, Tensor gradOutput)
    {
        float[] g = context.SavedTensors[0].ToArray<float>(), v = context.SavedTensors[1].ToArray<float>(), dy = gradOutput.ToArray<float>();
        var dg = new float[g.Length];
        var dv = new float[g.Length];
        for (int i = 0; i < g.Length; i++)
        {
            float sigmoid = 1f / (1f + MathF.Exp(-g[i]));
            float silu = g[i] * sigmoid;
            dg[i] = dy[i] * v[i] * MathF.FusedMultiplyAdd(silu, 1f - sigmoid, sigmoid);
            dv[i] = dy[i] * silu;
        }
        return [Tensor.FromData<float>(dg, gradOutput.Shape), Tensor.FromData<float>(dv, gradOutput.Shape)];
    }

    private static (Tensor Gate, Tensor Value) Inputs(Tensor[] inputs)
    {
        if (inputs.Length != 2)
            throw new ArgumentException($"FusedSwiGlu: expected 2 inputs (gate, value); got {inputs.Length}", nameof(inputs));
        if (!inputs[0].Shape.SequenceEqual(inputs[1].Shape))
            throw new TensorShapeException($"FusedSwiGlu: gate {Shapes.Format(inputs[0].Shape)} and value {Shapes.Format(inputs[1].Shape)} must have one shape");
        if (inputs[0].DType != DType.Float32 || inputs[1].DType != DType.Float32)
            throw new TensorDTypeException($"FusedSwiGlu: expected float32 gate and value; got {inputs[0].DType.Name()} and {inputs[1].DType.Name()}");
        return (inputs[0].Contiguous(), inputs[1].Contiguous());
    }
}
