using Tessera.Engine;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>The GPU side of Pad: every mode as a table of source offsets per output position of a plane (<see cref="GpuPad"/>).</summary>
public static partial class Functional
{
    /// <summary>Constant pad on the GPU: dims before the first padded one are planes; −1 offsets take the value.</summary>
    private static Tensor PadConstantGpu(Tensor x, int[] before, int[] after, int[] shape, float value)
    {
        int lead = 0;
        while (lead < x.Rank - 1 && before[lead] == 0 && after[lead] == 0)
            lead++;
        int planes = Shapes.Numel(x.ShapeArray[..lead]), inputPlane = Shapes.Numel(x.ShapeArray[lead..]);
        int[] offsets = GpuPad.ConstantOffsets(x.ShapeArray.AsSpan(lead), before.AsSpan(lead), after.AsSpan(lead));
        return PadTableGpu(x, offsets, planes, inputPlane, shape, value);
    }

    /// <summary>y[p, q] = x[p, offsets[q]] (value where −1), backward through the inverse table.</summary>
    private static Tensor PadTableGpu(Tensor x, int[] offsets, int planes, int inputPlane, int[] shape, float value)
    {
        var dense = x.Contiguous();
        var y = Tensor.Allocate(shape, DType.Float32, x.Device, zero: false);
        var table = DeviceTable(offsets, x.Device);
        if (y.Numel > 0)
            GpuPad.Run(x.Gpu.Launcher, dense.DeviceView<float>(), planes, inputPlane, table.DeviceView<int>(), value, y.DeviceView<float>());
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(y, "pad", [x], g =>
        {
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, g.Device, zero: false);
            if (gradInput.Numel == 0)
                return [gradInput];
            var gradOutput = g.Contiguous();
            var (starts, readers) = GpuPad.Inverse(offsets, inputPlane);
            using var startTable = DeviceTable(starts, g.Device);
            using var readerTable = DeviceTable(readers, g.Device);
            // An empty output plane: every input element gets zero (its run is empty), the view is a stand-in.
            var gradView = gradOutput.Numel > 0 ? gradOutput.DeviceView<float>() : gradInput.DeviceView<float>();
            GpuPad.Gradient(g.Gpu.Launcher, gradView, planes, offsets.Length, startTable.DeviceView<int>(), readerTable.DeviceView<int>(), gradInput.DeviceView<float>());
            return [gradInput];
        });
    }
}
