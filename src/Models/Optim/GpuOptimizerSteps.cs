using System.Runtime.InteropServices;
using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Models.Optim;

/// <summary>
/// The optimisers' updates for parameters that live on a GPU: one fused kernel per parameter
/// tensor (<see cref="OptimizerSteps"/>), and gradient-norm clipping's sum of squares as device
/// reductions with a single 8-byte copy back per device.
/// </summary>
internal static class GpuOptimizerSteps
{
    /// <summary>One SGD update in place; <paramref name="momentumBuffer"/> is null without momentum.</summary>
    public static void Sgd(Tensor parameter, Tensor gradient, Tensor? momentumBuffer, float learningRate, float weightDecay,
        float momentum, float dampening, bool nesterov, bool firstStep)
    {
        var g = DenseGradient(parameter, gradient, "Sgd");
        OptimizerSteps.Sgd(parameter.Gpu.Launcher, Dense(parameter, "parameter"), g.DeviceView<float>(),
            momentumBuffer is null ? default : Dense(momentumBuffer, "momentum buffer"), learningRate, weightDecay, momentum, dampening, nesterov, firstStep);
    }

    /// <summary>One AdamW update in place, with the host-computed step size and bias correction.</summary>
    public static void AdamW(Tensor parameter, Tensor gradient, Tensor firstMoment, Tensor secondMoment,
        float decay, float beta1, float beta2, float stepSize, float sqrtCorrection2, float eps)
    {
        var g = DenseGradient(parameter, gradient, "AdamW");
        OptimizerSteps.AdamW(parameter.Gpu.Launcher, Dense(parameter, "parameter"), g.DeviceView<float>(), Dense(firstMoment, "first moment"),
            Dense(secondMoment, "second moment"), decay, beta1, beta2, stepSize, sqrtCorrection2, eps);
    }

    /// <summary>Σ g² over every GPU gradient: partial sums of all gradients of a device in one buffer, reduced there, one copy back per device.</summary>
    public static double SumOfSquares(IEnumerable<Tensor> gradients)
    {
        double total = 0;
        foreach (var onDevice in gradients.GroupBy(g => g.Device))
        {
            var dense = onDevice.Select(g => g.Contiguous()).ToList();
            GpuContext gpu = dense[0].Gpu;
            int partialCount = dense.Sum(g => OptimizerSteps.PartialCount(g.Numel));
            GpuStorage partials = gpu.Allocate((long)partialCount * sizeof(double), zero: false);
            GpuStorage sum = gpu.Allocate(sizeof(double), zero: false);
            try
            {
                var partialView = DeviceSpan<double>.FromAddress(partials.Pointer.Address, partialCount);
                int offset = 0;
                foreach (var g in dense)
                {
                    OptimizerSteps.SumSquares(gpu.Launcher, g.DeviceView<float>(), partialView, offset);
                    offset += OptimizerSteps.PartialCount(g.Numel);
                }
                OptimizerSteps.Total(gpu.Launcher, partialView, DeviceSpan<double>.FromAddress(sum.Pointer.Address, 1));
                var result = new double[1];
                gpu.CopyToHost(MemoryMarshal.AsBytes(result.AsSpan()), sum.Pointer);
                total += result[0];
            }
            finally
            {
                partials.Release();
                sum.Release();
            }
        }
        return total;
    }

    /// <summary>gradient *= factor in place on its device.</summary>
    public static void Scale(Tensor gradient, float factor)
    {
        var dense = gradient.Contiguous();
        OptimizerSteps.Scale(dense.Gpu.Launcher, dense.DeviceView<float>(), factor);
        if (!ReferenceEquals(dense, gradient))
            gradient.CopyFrom(dense);
    }

    private static Tensor DenseGradient(Tensor parameter, Tensor gradient, string optimizer)
    {
        if (gradient.Device != parameter.Device)
            throw new TensorDeviceException($"{optimizer}: the gradient of parameter '{parameter.Name ?? "unnamed"}' is on {gradient.Device}, expected its parameter's device {parameter.Device}; keep gradients where their parameters are");
        return gradient.Contiguous();
    }

    private static DeviceSpan<float> Dense(Tensor t, string what) =>
        t.IsContiguous ? t.DeviceView<float>() : throw new InvalidOperationException($"optimiser: {what} of shape {Shapes.Format(t.Shape)} is a strided view; parameters must be dense tensors");
}
