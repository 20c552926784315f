using Tessera.Engine;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>Softmax and log-softmax along one dim (stabilised by the maximum).</summary>
public static partial class Functional
{
    /// <summary>torch.softmax: exp(x - max) / sum(exp(x - max)) along <paramref name="dim"/>.</summary>
    public static Tensor Softmax(Tensor x, int dim) => SoftmaxCore(x, dim, logarithm: false, "softmax");

    /// <summary>torch.log_softmax: x - max - log(sum(exp(x - max))) along <paramref name="dim"/>.</summary>
    public static Tensor LogSoftmax(Tensor x, int dim) => SoftmaxCore(x, dim, logarithm: true, "log_softmax");

    private static unsafe Tensor SoftmaxCore(Tensor x, int dim, bool logarithm, string op)
    {
        x.ExpectFloat(op, "input");
        int d = Shapes.NormalizeDim(dim, x.Rank, op);
        int size = x.Rank == 0 ? 1 : x.Size(d);
        int outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= x.ShapeArray[i];
        for (int i = d + 1; i < x.Rank; i++) inner *= x.ShapeArray[i];
        var dense = x.Contiguous();
        var y = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
            GpuSoftmax.Forward(x.Gpu.Launcher, dense.DeviceView<float>(), outer, size, inner, logarithm, y.DeviceView<float>());
        else if (y.Numel > 0)
            Kernels.Cpu.Softmax.Forward(dense.Pointer<float>(), outer, size, inner, logarithm, y.Pointer<float>());
        return AutogradEngine.Record(y, op, [x], g =>
        {
            var gradOutput = g.Contiguous();
            var gradInput = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
            if (x.Device.IsGpu)
                GpuSoftmax.Backward(x.Gpu.Launcher, gradOutput.DeviceView<float>(), y.DeviceView<float>(), outer, size, inner, logarithm, gradInput.DeviceView<float>());
            else if (gradInput.Numel > 0)
                Kernels.Cpu.Softmax.Backward(gradOutput.Pointer<float>(), y.Pointer<float>(), outer, size, inner, logarithm, gradInput.Pointer<float>());
            return [gradInput];
        });
    }
}
