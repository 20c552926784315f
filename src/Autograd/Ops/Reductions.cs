using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>Reductions over any set of dims (empty = all), with keepDim.</summary>
public static partial class Functional
{
    public static Tensor Sum(Tensor x, int[]? dims = null, bool keepDim = false)
    {
        var plan = ReducePlan.Create(x, dims, "sum", cpuLines: true);
        var y = Tensor.Allocate(plan.KeptShape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu && plan.Lines.LineCount == 1 && plan.Length >= OneRowSplit * 4)
            SumOneLongRow(plan.Rows, y);
        else if (x.Device.IsGpu)
            GpuReduce.Sum(x.Gpu.Launcher, plan.Rows.DeviceView<float>(), plan.Lines, y.DeviceView<float>());
        else if (plan.Lines.Inner > 1)
            unsafe { Reduce.SumLines(plan.Rows.Pointer<float>(), plan.Lines.LineCount / plan.Lines.Inner, plan.Length, plan.Lines.Inner, y.Pointer<float>()); }
        else
            unsafe { Reduce.Sum(plan.Rows.Pointer<float>(), plan.RowCount, plan.Length, y.Pointer<float>()); }
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(plan.Finish(y, keepDim), "sum", [x], g => [Expand(plan.Keep(g, keepDim), inputShape)]);
    }

    public static Tensor Sum(Tensor x, int dim, bool keepDim = false) => Sum(x, [dim], keepDim);

    /// <summary>Elements per partial sum when one long row is summed on a GPU in two passes.</summary>
    private const int OneRowSplit = 4096;

    /// <summary>
    /// The sum of one long dense GPU row in two passes, so that more than one block works on it:
    /// partial sums of 4096-element pieces (a 256-thread block each) (plus one for the remainder), then the sum of the partials.
    /// </summary>
    private static void SumOneLongRow(Tensor row, Tensor result)
    {
        var launcher = row.Gpu.Launcher;
        var elements = row.DeviceView<float>();
        int pieces = elements.Length / OneRowSplit, remainder = elements.Length - pieces * OneRowSplit;
        using var partials = Tensor.Allocate([pieces + 1], DType.Float32, row.Device, zero: true);
        var partialView = partials.DeviceView<float>();
        GpuReduce.Sum(launcher, elements, new LineLayout(pieces, OneRowSplit, 1), partialView.Slice(0, pieces));
        if (remainder > 0)
            GpuReduce.Sum(launcher, elements.Slice(pieces * OneRowSplit, remainder), new LineLayout(1, remainder, 1), partialView.Slice(pieces, 1));
        GpuReduce.Sum(launcher, partialView, new LineLayout(1, pieces + 1, 1), result.DeviceView<float>());
    }

    public static Tensor Mean(Tensor x, int[]? dims = null, bool keepDim = false)
    {
        int count = 1;
        foreach (int d in Shapes.NormalizeDims(dims ?? [], x.Rank, "mean")) count *= x.ShapeArray[d];
        // An empty reduction gives 0 * inf = NaN, as torch.mean does.
        return Sum(x, dims, keepDim) * (1f / count);
    }

    public static Tensor Mean(Tensor x, int dim, bool keepDim = false) => Mean(x, [dim], keepDim);

    /// <summary>Variance with Bessel's correction by default (correction = 1), as torch.var.</summary>
    public static Tensor Var(Tensor x, int[]? dims = null, int correction = 1, bool keepDim = false)
    {
        var plan = ReducePlan.Create(x, dims, "var");
        var y = Tensor.Allocate(plan.KeptShape, DType.Float32, x.Device, zero: false);
        var mean = Tensor.Allocate(plan.KeptShape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
            GpuReduce.Variance(x.Gpu.Launcher, plan.Rows.DeviceView<float>(), plan.Lines, correction, y.DeviceView<float>(), mean.DeviceView<float>());
        else
            unsafe { Reduce.Variance(plan.Rows.Pointer<float>(), plan.RowCount, plan.Length, correction, y.Pointer<float>(), mean.Pointer<float>()); }
        int length = plan.Length;
        return AutogradEngine.Record(plan.Finish(y, keepDim), "var", [x], g =>
            [plan.Keep(g, keepDim) * (x - mean) * (2f / (length - correction))]);
    }

    public static Tensor Std(Tensor x, int[]? dims = null, int correction = 1, bool keepDim = false) => Sqrt(Var(x, dims, correction, keepDim));

    /// <summary>log(sum(exp(x))) over dims, computed stably.</summary>
    public static Tensor LogSumExp(Tensor x, int[] dims, bool keepDim = false)
    {
        var plan = ReducePlan.Create(x, dims, "logsumexp");
        var y = Tensor.Allocate(plan.KeptShape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
            GpuReduce.LogSumExp(x.Gpu.Launcher, plan.Rows.DeviceView<float>(), plan.Lines, y.DeviceView<float>());
        else
            unsafe { Reduce.LogSumExp(plan.Rows.Pointer<float>(), plan.RowCount, plan.Length, y.Pointer<float>()); }
        return AutogradEngine.Record(plan.Finish(y, keepDim), "logsumexp", [x], g => [plan.Keep(g, keepDim) * Exp(x - y)]);
    }

    public static Tensor LogSumExp(Tensor x, int dim, bool keepDim = false) => LogSumExp(x, [dim], keepDim);

    /// <summary>Max along one dim: values (differentiable) and int64 indices of the first maximum.</summary>
    public static (Tensor Values, Tensor Indices) Max(Tensor x, int dim, bool keepDim = false) => MaxOrMin(x, dim, keepDim, max: true);

    public static (Tensor Values, Tensor Indices) Min(Tensor x, int dim, bool keepDim = false) => MaxOrMin(x, dim, keepDim, max: false);

    /// <summary>Max of every element; on ties the gradient is shared evenly (torch.max() / amax).</summary>
    public static Tensor Max(Tensor x) => ExtremeAll(x, max: true);

    public static Tensor Min(Tensor x) => ExtremeAll(x, max: false);

    /// <summary>Index of the maximum along dim (int64); of the flattened tensor when dim is null.</summary>
    public static Tensor Argmax(Tensor x, int? dim = null, bool keepDim = false) =>
        dim is null ? Max(Reshape(x.Detach(), -1), 0).Indices : Max(x.Detach(), dim.Value, keepDim).Indices;

    public static Tensor Argmin(Tensor x, int? dim = null, bool keepDim = false) =>
        dim is null ? Min(Reshape(x.Detach(), -1), 0).Indices : Min(x.Detach(), dim.Value, keepDim).Indices;

    private static (Tensor, Tensor) MaxOrMin(Tensor x, int dim, bool keepDim, bool max)
    {
        string name = max ? "max" : "min";
        int d = Shapes.NormalizeDim(dim, x.Rank, name);
        var plan = ReducePlan.Create(x, [d], name);
        if (plan.Length == 0)
            throw new TensorShapeException($"{name}: cannot reduce dim {d} of size 0 (shape {Shapes.Format(x.Shape)}); there is no maximum of nothing");
        var values = Tensor.Allocate(plan.KeptShape, DType.Float32, x.Device, zero: false);
        var indices = Tensor.Allocate(plan.KeptShape, DType.Int64, x.Device, zero: false);
        if (x.Device.IsGpu)
            GpuReduce.Extreme(x.Gpu.Launcher, plan.Rows.DeviceView<float>(), plan.Lines, max, values.DeviceView<float>(), indices.DeviceView<long>());
        else
            unsafe { Reduce.MaxOrMin(plan.Rows.Pointer<float>(), plan.RowCount, plan.Length, max, values.Pointer<float>(), indices.Pointer<long>()); }
        int[] inputShape = x.ShapeArray;
        var result = AutogradEngine.Record(plan.Finish(values, keepDim), name, [x], g =>
            [ScatterIntoDim(plan.Keep(g, true), indices, inputShape, d)]);
        return (result, plan.Finish(indices, keepDim));
    }

    private static Tensor ExtremeAll(Tensor x, bool max)
    {
        if (x.Numel == 0)
            throw new TensorShapeException($"{(max ? "max" : "min")}: expected a non-empty tensor, found shape {Shapes.Format(x.Shape)}");
        var flat = ReducePlan.Create(x, null, max ? "max" : "min");
        var value = Tensor.Allocate([], DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            using var index = Tensor.Allocate([], DType.Int64, x.Device, zero: false);
            GpuReduce.Extreme(x.Gpu.Launcher, flat.Rows.DeviceView<float>(), new LineLayout(1, flat.Length, 1), max, value.DeviceView<float>(), index.DeviceView<long>());
        }
        else
        {
            unsafe { Reduce.MaxOrMin(flat.Rows.Pointer<float>(), 1, flat.Length, max, value.Pointer<float>(), null); }
        }
        return AutogradEngine.Record(value, max ? "max" : "min", [x], g =>
        {
            var hits = Equal(x, value).ToFloat();
            return [hits * (g / Sum(hits))];
        });
    }

    /// <summary>gradInput with gradOutput[..., i, ...] placed at index[..., i, ...] along dim, zero elsewhere (the backward of a max along dim).</summary>
    private static unsafe Tensor ScatterIntoDim(Tensor gradKeep, Tensor indicesKeep, int[] inputShape, int dim)
    {
        var grad = Tensor.Zeros(inputShape, DType.Float32, gradKeep.Device);
        if (grad.Device.IsGpu)
        {
            // A scatter-add whose index has size 1 along dim: each gradient lands at its arg-max, once.
            // gradKeep lacks the reduced dim when the op dropped it; give it back (size 1) so it lines up with the indices.
            var source = gradKeep.Rank == indicesKeep.Rank ? gradKeep : Reshape(gradKeep, indicesKeep.ShapeArray);
            ScatterAddInto(source, indicesKeep.Contiguous(), dim, grad);
            return grad;
        }
        var g = gradKeep.Contiguous();
        int outer = 1, inner = 1, size = inputShape[dim];
        for (int i = 0; i < dim; i++) outer *= inputShape[i];
        for (int i = dim + 1; i < inputShape.Length; i++) inner *= inputShape[i];
        float* gp = g.Pointer<float>(), op = grad.Pointer<float>();
        long* ip = indicesKeep.Contiguous().Pointer<long>();
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int k = o * inner + i;
                op[((long)o * size + ip[k]) * inner + i] = gp[k];
            }
        return grad;
    }

    /// <summary>
    /// Brings the reduced dims last and dense: the kernels then reduce [RowCount, Length] rows.
    /// KeptShape has the reduced dims at size 1 in place; Finish drops them unless keepDim.
    /// </summary>
    private sealed class ReducePlan
    {
        private int[] _dims = [];
        private int[] _inputShape = [];

        public Tensor Rows { get; private init; } = null!;

        public int RowCount { get; private init; }

        public int Length { get; private init; }

        public int[] KeptShape { get; private init; } = [];

        /// <param name="cpuLines">The caller's CPU path reads [outer, length, inner] lines in place
        /// (<see cref="Reduce.SumLines"/>); otherwise a CPU input is permuted so the reduced dims are last.</param>
        public static ReducePlan Create(Tensor x, int[]? dims, string op, bool cpuLines = false)
        {
            x.ExpectFloat(op, "input");
            int[] reduced = Shapes.NormalizeDims(dims ?? [], x.Rank, op);
            var kept = Enumerable.Range(0, x.Rank).Where(d => !reduced.Contains(d)).ToArray();
            int length = 1;
            foreach (int d in reduced) length *= x.ShapeArray[d];
            var keptShape = (int[])x.ShapeArray.Clone();
            foreach (int d in reduced) keptShape[d] = 1;
            int rowCount = Shapes.Numel(keptShape);
            // On a GPU, a contiguous input reduced over one run of dims with a wide inner part is read
            // in place as [outer, length, inner] lines, one thread per line (neighbouring threads read
            // neighbouring elements): no permuted copy. Only when there are lines enough to keep a GPU's
            // memory system busy, or the lines are short; otherwise the permuted rows give a warp or a block per line.
            int inner = 1;
            for (int d = reduced.Length == 0 ? x.Rank : reduced[^1] + 1; d < x.Rank; d++) inner *= x.ShapeArray[d];
            bool oneRun = x.IsContiguous && reduced.Length > 0 && reduced[^1] - reduced[0] == reduced.Length - 1;
            bool inPlace = x.Device.IsGpu
                ? oneRun && inner >= 32 && (rowCount >= 65536 || length <= 64)
                : cpuLines && oneRun && inner >= 16;
            Tensor rows;
            if (inPlace)
            {
                rows = x;
            }
            else
            {
                var order = kept.Concat(reduced).ToArray();
                using (GradMode.NoGrad())
                    rows = (order.SequenceEqual(Enumerable.Range(0, x.Rank)) ? x : Permute(x, order)).Contiguous();
                inner = 1;
            }
            return new ReducePlan
            {
                _dims = reduced,
                _inputShape = x.ShapeArray,
                Rows = rows,
                RowCount = rowCount,
                Length = length,
                KeptShape = keptShape,
                Lines = new LineLayout(rowCount / inner, length, inner),
            };
        }

        /// <summary>
        /// The GPU kernels' view of <see cref="Rows"/>: [RowCount, Length] rows (inner 1) after a
        /// permuted copy, or [outer, Length, inner] lines read in place. Lines come out in the kept shape's order either way.
        /// </summary>
        public LineLayout Lines { get; private init; }

        /// <summary>Drops the reduced dims from a kept-shape result unless keepDim.</summary>
        public Tensor Finish(Tensor keptResult, bool keepDim)
        {
            if (keepDim) return keptResult;
            var shape = Enumerable.Range(0, _inputShape.Length).Where(d => !_dims.Contains(d)).Select(d => _inputShape[d]).ToArray();
            return keptResult.View(shape, Shapes.ContiguousStrides(shape), keptResult.Offset);
        }

        /// <summary>Reshapes an output gradient back to the kept shape (so it broadcasts over the input).</summary>
        public Tensor Keep(Tensor grad, bool keepDim) => keepDim ? grad : Reshape(grad, KeptShape);
    }
}
