using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>The weighted sum of unit (expert) outputs of a routed layer, as one fused op.</summary>
public static partial class Functional
{
    /// <summary>
    /// sum_k weights[..., k] * units[k]: with weights [N, K] every unit is [N, ...] and row n of the
    /// result mixes row n of the units with weights[n, :]; with weights [K] the units may have any
    /// (common) shape. Gradients flow to the weights and to every unit.
    /// </summary>
    public static Tensor RoutedCombine(Tensor weights, IReadOnlyList<Tensor> units)
    {
        const string op = "routed_combine";
        ArgumentNullException.ThrowIfNull(units);
        if (units.Count == 0)
            throw new ArgumentException($"{op}: 'units' expected at least one tensor, found an empty list", nameof(units));
        int[] unitShape = units[0].ShapeArray;
        for (int k = 0; k < units.Count; k++)
        {
            units[k].ExpectFloat(op, $"units[{k}]");
            CheckSameDevice(op, weights, units[k]);
            if (!Shapes.Equal(units[k].Shape, unitShape))
                throw new TensorShapeException($"{op}: 'units' expected every tensor of shape {Shapes.Format(unitShape)} (that of units[0]), found units[{k}] of shape {Shapes.Format(units[k].Shape)}", nameof(units));
        }
        var (rowCount, rowLength) = CombineRows(op, weights, units.Count, unitShape, "units[k]");
        var w = weights.Contiguous();
        Tensor[] dense;
        using (GradMode.NoGrad())
            dense = units.Select(u => u.Contiguous()).ToArray();
        var output = Tensor.Allocate(unitShape, DType.Float32, weights.Device, zero: false);
        if (weights.Device.IsGpu)
        {
            for (int k = 0; k < dense.Length; k++)
                Kernels.Gpu.GpuRouting.Combine(weights.Gpu.Launcher, dense[k].DeviceView<float>(), w.DeviceView<float>(), k, 1, dense.Length,
                    rowCount, rowLength, accumulate: k > 0, output.DeviceView<float>());
        }
        else
        {
            unsafe
            {
                Kernels.Cpu.RoutedCombine.Forward(Pointers(dense), w.Pointer<float>(), rowCount, rowLength, output.Pointer<float>());
            }
        }
        return AutogradEngine.Record(output, op, [weights, .. units], g =>
        {
            var gradOutput = g.Contiguous();
            var gradUnits = units.Select(u => u.RequiresGrad ? Tensor.Allocate(unitShape, DType.Float32, u.Device, zero: false) : null).ToArray();
            var gradWeights = weights.RequiresGrad ? Tensor.Allocate(weights.Shape, DType.Float32, weights.Device, zero: false) : null;
            if (weights.Device.IsGpu)
            {
                var launcher = weights.Gpu.Launcher;
                for (int k = 0; k < dense.Length; k++)
                {
                    if (gradUnits[k] is { } gradUnit)
                        Kernels.Gpu.GpuRouting.GradUnits(launcher, gradOutput.DeviceView<float>(), w.DeviceView<float>(), k, dense.Length, rowCount, rowLength, gradUnit.DeviceView<float>());
                    if (gradWeights is not null)
                        Kernels.Gpu.GpuRouting.GradWeights(launcher, gradOutput.DeviceView<float>(), dense[k].DeviceView<float>(), k, 1, dense.Length, rowCount, rowLength, gradWeights.DeviceView<float>());
                }
            }
            else
            {
                unsafe
                {
                    Kernels.Cpu.RoutedCombine.Backward(Pointers(dense), w.Pointer<float>(), gradOutput.Pointer<float>(), rowCount, rowLength,
                        Pointers(gradUnits), gradWeights is null ? null : gradWeights.Pointer<float>());
                }
            }
            return [gradWeights, .. gradUnits];
        });
    }

    /// <summary>
    /// <see cref="RoutedCombine(Tensor, IReadOnlyList{Tensor})"/> over units stacked along dim 0:
    /// stackedUnits [K, N, ...] with weights [N, K], or [K, ...] with weights [K]; the result drops dim 0.
    /// </summary>
    public static Tensor RoutedCombine(Tensor weights, Tensor stackedUnits)
    {
        const string op = "routed_combine";
        stackedUnits.ExpectFloat(op, nameof(stackedUnits));
        CheckSameDevice(op, weights, stackedUnits);
        if (stackedUnits.Rank < 1)
            throw new TensorShapeException($"{op}: 'stackedUnits' expected [K, ...] with K units stacked along dim 0, found a 0-dim tensor", nameof(stackedUnits));
        int unitCount = stackedUnits.ShapeArray[0];
        int[] unitShape = stackedUnits.ShapeArray[1..];
        var (rowCount, rowLength) = CombineRows(op, weights, unitCount, unitShape, "stackedUnits[k]");
        var w = weights.Contiguous();
        Tensor x;
        using (GradMode.NoGrad())
            x = stackedUnits.Contiguous();
        long unitSize = (long)rowCount * rowLength;
        var output = Tensor.Allocate(unitShape, DType.Float32, weights.Device, zero: false);
        if (weights.Device.IsGpu)
        {
            Kernels.Gpu.GpuRouting.Combine(weights.Gpu.Launcher, x.DeviceView<float>(), w.DeviceView<float>(), 0, unitCount, unitCount,
                rowCount, rowLength, accumulate: false, output.DeviceView<float>());
        }
        else
        {
            unsafe
            {
                Kernels.Cpu.RoutedCombine.Forward(Strided(x.Pointer<float>(), unitCount, unitSize), w.Pointer<float>(), rowCount, rowLength, output.Pointer<float>());
            }
        }
        return AutogradEngine.Record(output, op, [weights, stackedUnits], g =>
        {
            var gradOutput = g.Contiguous();
            var gradUnits = stackedUnits.RequiresGrad ? Tensor.Allocate(stackedUnits.Shape, DType.Float32, stackedUnits.Device, zero: false) : null;
            var gradWeights = weights.RequiresGrad ? Tensor.Allocate(weights.Shape, DType.Float32, weights.Device, zero: false) : null;
            if (weights.Device.IsGpu)
            {
                var launcher = weights.Gpu.Launcher;
                if (gradUnits is not null)
                    Kernels.Gpu.GpuRouting.GradUnits(launcher, gradOutput.DeviceView<float>(), w.DeviceView<float>(), 0, unitCount, rowCount, rowLength, gradUnits.DeviceView<float>());
                if (gradWeights is not null)
                    Kernels.Gpu.GpuRouting.GradWeights(launcher, gradOutput.DeviceView<float>(), x.DeviceView<float>(), 0, unitCount, unitCount, rowCount, rowLength, gradWeights.DeviceView<float>());
            }
            else unsafe
            {
                Kernels.Cpu.RoutedCombine.Backward(Strided(x.Pointer<float>(), unitCount, unitSize), w.Pointer<float>(), gradOutput.Pointer<float>(),
                    rowCount, rowLength, gradUnits is null ? new float*[unitCount] : Strided(gradUnits.Pointer<float>(), unitCount, unitSize),
                    gradWeights is null ? null : gradWeights.Pointer<float>());
            }
            return [gradWeights, gradUnits];
        });
    }

    /// <summary>Checks weights against K units of <paramref name="unitShape"/>; returns the kernel's [rows, rowLength] view of a unit.</summary>
    private static (int RowCount, int RowLength) CombineRows(string op, Tensor weights, int unitCount, int[] unitShape, string unitName)
    {
        weights.ExpectFloat(op, nameof(weights));
        if (weights.Rank is not (1 or 2))
            throw new TensorShapeException($"{op}: 'weights' expected [K] or [N, K], found shape {Shapes.Format(weights.Shape)}", nameof(weights));
        if (weights.Size(-1) != unitCount)
            throw new TensorShapeException($"{op}: 'weights' expected last dim K = {unitCount} (the number of units), found shape {Shapes.Format(weights.Shape)}", nameof(weights));
        if (unitCount == 0)
            throw new ArgumentException($"{op}: expected at least one unit, found K = 0", nameof(weights));
        int numel = Shapes.Numel(unitShape);
        if (weights.Rank == 1)
            return (1, numel);
        int rows = weights.ShapeArray[0];
        if (unitShape.Length == 0 || unitShape[0] != rows)
            throw new TensorShapeException($"{op}: '{unitName}' expected leading dim N = {rows} to match weights {Shapes.Format(weights.Shape)}, found shape {Shapes.Format(unitShape)}", nameof(weights));
        return (rows, rows == 0 ? 0 : numel / rows);
    }

    private static unsafe float*[] Pointers(Tensor?[] tensors)
    {
        var result = new float*[tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
            result[i] = tensors[i] is { } t ? t.Pointer<float>() : null;
        return result;
    }

    private static unsafe float*[] Strided(float* start, int count, long step)
    {
        var result = new float*[count];
        for (int i = 0; i < count; i++)
            result[i] = start + i * step;
        return result;
    }
}
