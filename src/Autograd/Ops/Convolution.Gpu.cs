using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>The GPU side of conv2d / conv_transpose2d that needs more than one launch.</summary>
public static partial class Functional
{
    /// <summary>The weight gradient on the GPU, with a scratch tensor for its split-k slices when it splits.</summary>
    private static void ConvBackwardWeightGpu(Tensor input, Tensor gradOutput, in Conv2dGeometry geometry, Tensor result)
    {
        int scratchLength = GpuConv2d.WeightScratchLength(geometry);
        using var scratch = scratchLength > 0 ? Tensor.Allocate([scratchLength], DType.Float32, result.Device, zero: false) : null;
        GpuConv2d.BackwardWeight(result.Gpu.Launcher, input.DeviceView<float>(), gradOutput.DeviceView<float>(), geometry,
            scratch is null ? result.DeviceView<float>() : scratch.DeviceView<float>(), result.DeviceView<float>());
    }
}
