using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>The GPU side of Interpolate: the CPU's per-axis tables uploaded once, kernels from <see cref="GpuUpsample2d"/>.</summary>
public static partial class Functional
{
    private static Tensor NearestGpu(Tensor input, Tensor x, int planes, int inHeight, int inWidth, int[] rows, int[] columns, Tensor y)
    {
        var device = x.Device;
        var rowTable = DeviceTable(rows, device);
        var columnTable = DeviceTable(columns, device);
        GpuUpsample2d.Nearest(x.Gpu.Launcher, x.DeviceView<float>(), planes, inHeight, inWidth, rowTable.DeviceView<int>(), columnTable.DeviceView<int>(), y.DeviceView<float>());
        int[] inputShape = input.ShapeArray;
        return AutogradEngine.Record(y, "upsample_nearest2d", [input], g =>
        {
            var grad = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, grad.Device, zero: false);
            using var rowRuns = DeviceTable(GpuUpsample2d.Runs(inHeight, rows), device);
            using var columnRuns = DeviceTable(GpuUpsample2d.Runs(inWidth, columns), device);
            GpuUpsample2d.NearestGradient(grad.Gpu.Launcher, grad.DeviceView<float>(), planes, rows.Length, columns.Length,
                rowRuns.DeviceView<int>(), columnRuns.DeviceView<int>(), gradInput.DeviceView<float>());
            return [gradInput];
        });
    }

    private static Tensor BilinearGpu(Tensor input, Tensor x, int planes, int inHeight, int inWidth, LinearAxis rows, LinearAxis columns, Tensor y)
    {
        var device = x.Device;
        var rowTables = AxisTables(rows, inHeight, device);
        var columnTables = AxisTables(columns, inWidth, device);
        GpuUpsample2d.Bilinear(x.Gpu.Launcher, x.DeviceView<float>(), planes, inHeight, inWidth, View(rowTables), View(columnTables), y.DeviceView<float>());
        int[] inputShape = input.ShapeArray;
        return AutogradEngine.Record(y, "upsample_bilinear2d", [input], g =>
        {
            var grad = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, grad.Device, zero: false);
            GpuUpsample2d.BilinearGradient(grad.Gpu.Launcher, grad.DeviceView<float>(), planes, View(rowTables), View(columnTables), gradInput.DeviceView<float>());
            return [gradInput];
        });
    }

    /// <summary>An int table on <paramref name="device"/> (at least one element, so the view is never empty).</summary>
    private static Tensor DeviceTable(int[] values, Device device)
    {
        using var host = Tensor.FromArray(values.Length == 0 ? [0] : values, Math.Max(values.Length, 1));
        return host.To(device);
    }

    private static Tensor DeviceTable(float[] values, Device device)
    {
        using var host = Tensor.FromArray(values, values.Length);
        return host.To(device);
    }

    private static Tensor[] AxisTables(LinearAxis axis, int inSize, Device device) =>
    [
        DeviceTable(axis.Index0, device), DeviceTable(axis.Index1, device),
        DeviceTable(axis.Lambda0, device), DeviceTable(axis.Lambda1, device),
        DeviceTable(GpuUpsample2d.Runs(inSize, axis.Index0, axis.Index1), device),
    ];

    private static DeviceLinearAxis View(Tensor[] tables) =>
        new(tables[0].DeviceView<int>(), tables[1].DeviceView<int>(), tables[2].DeviceView<float>(), tables[3].DeviceView<float>(), tables[4].DeviceView<int>());
}
