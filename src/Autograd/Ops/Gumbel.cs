using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Autograd;

/// <summary>Gumbel noise and gumbel_softmax (torch.nn.functional.gumbel_softmax).</summary>
public static partial class Functional
{
    /// <summary>
    /// Standard Gumbel noise -log(-log(U)), U uniform strictly inside (0, 1), drawn from
    /// <paramref name="generator"/> (the default stream when null). Counter-based: the values
    /// depend only on the generator's state, never on the thread count or the device: on a GPU
    /// (<paramref name="device"/>, the CPU when null) the same Philox blocks give the same noise.
    /// </summary>
    public static Tensor GumbelNoise(ReadOnlySpan<int> shape, Generator? generator = null, Device? device = null)
    {
        var gen = generator ?? Generator.Default;
        var noise = Tensor.Allocate(shape, DType.Float32, device ?? Device.Cpu, zero: false);
        ulong first = gen.Reserve(noise.Numel);
        if (noise.Device.IsGpu)
            Kernels.Gpu.GpuRouting.GumbelNoise(noise.Gpu.Launcher, gen.Seed, first, noise.DeviceView<float>());
        else
            unsafe { Kernels.Cpu.Gumbel.Noise(gen.Seed, first, noise.Numel, noise.Pointer<float>()); }
        return noise;
    }

    /// <summary>
    /// torch.nn.functional.gumbel_softmax: softmax((logits + g) / tau) along <paramref name="dim"/>
    /// with g = <see cref="GumbelNoise"/> from <paramref name="generator"/>. With
    /// <paramref name="hard"/> the result is exactly one-hot (argmax of the soft sample, first on
    /// ties) while the gradient is the soft sample's (straight-through estimator).
    /// </summary>
    public static Tensor GumbelSoftmax(Tensor logits, float tau = 1f, bool hard = false, int dim = -1, Generator? generator = null)
    {
        logits.ExpectFloat("gumbel_softmax", nameof(logits));
        CheckTau(tau);
        return GumbelSoftmaxWithNoise(logits, GumbelNoise(logits.Shape, generator, logits.Device), tau, hard, dim);
    }

    /// <summary>
    /// <see cref="GumbelSoftmax"/> with the Gumbel noise given explicitly (same shape as logits; it
    /// gets no gradient). Deterministic, so it can be compared with PyTorch fed the same noise.
    /// </summary>
    public static Tensor GumbelSoftmaxWithNoise(Tensor logits, Tensor noise, float tau = 1f, bool hard = false, int dim = -1)
    {
        const string op = "gumbel_softmax";
        logits.ExpectFloat(op, nameof(logits));
        noise.ExpectFloat(op, nameof(noise));
        CheckSameDevice(op, logits, noise);
        CheckTau(tau);
        if (!Shapes.Equal(noise.Shape, logits.Shape))
            throw new TensorShapeException($"{op}: 'noise' expected the shape of logits {Shapes.Format(logits.Shape)}, found {Shapes.Format(noise.Shape)}", nameof(noise));
        int d = Shapes.NormalizeDim(dim, logits.Rank, op);
        int size = logits.Rank == 0 ? 1 : logits.ShapeArray[d], outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= logits.ShapeArray[i];
        for (int i = d + 1; i < logits.Rank; i++) inner *= logits.ShapeArray[i];
        var x = logits.Contiguous();
        var g = noise.Contiguous();
        var soft = Tensor.Allocate(logits.Shape, DType.Float32, logits.Device, zero: false);
        var oneHot = hard ? Tensor.Allocate(logits.Shape, DType.Float32, logits.Device, zero: false) : null;
        if (logits.Device.IsGpu)
        {
            Kernels.Gpu.GpuRouting.GumbelSoftmaxForward(logits.Gpu.Launcher, x.DeviceView<float>(), g.DeviceView<float>(), outer, size, inner, tau,
                soft.DeviceView<float>(), oneHot is null ? default : oneHot.DeviceView<float>());
        }
        else
        {
            unsafe
            {
                Kernels.Cpu.Gumbel.SoftmaxForward(x.Pointer<float>(), g.Pointer<float>(), outer, size, inner, tau,
                    soft.Pointer<float>(), oneHot is null ? null : oneHot.Pointer<float>());
            }
        }
        return AutogradEngine.Record(oneHot ?? soft, hard ? "gumbel_softmax_hard" : op, [logits], gradOutput =>
        {
            var go = gradOutput.Contiguous();
            var gradLogits = Tensor.Allocate(soft.Shape, DType.Float32, soft.Device, zero: false);
            if (soft.Device.IsGpu)
                Kernels.Gpu.GpuRouting.GumbelSoftmaxBackward(soft.Gpu.Launcher, soft.DeviceView<float>(), go.DeviceView<float>(), outer, size, inner, tau, gradLogits.DeviceView<float>());
            else
                unsafe { Kernels.Cpu.Gumbel.SoftmaxBackward(soft.Pointer<float>(), go.Pointer<float>(), outer, size, inner, tau, gradLogits.Pointer<float>()); }
            return [gradLogits];
        });
    }

    private static void CheckTau(float tau)
    {
        if (!(tau > 0f) || float.IsInfinity(tau))
            throw new ArgumentOutOfRangeException(nameof(tau), tau, $"gumbel_softmax: 'tau' expected a finite temperature > 0, found {tau}");
    }
}
