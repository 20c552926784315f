using Tessera.Engine;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>Indexing by integer tensors: embedding, gather, scatter_add, index_select.</summary>
public static partial class Functional
{
    /// <summary>
    /// Rows of <paramref name="weight"/> [numEmbeddings, embeddingDim] picked by
    /// <paramref name="indices"/> (int64 or int32, any shape): result [*indices.shape, embeddingDim]
    /// (torch.nn.functional.embedding). Gradients of repeated indices add up; the row
    /// <paramref name="paddingIdx"/> (negative counts from the end) is looked up as usual but gets no gradient.
    /// </summary>
    public static Tensor Embedding(Tensor indices, Tensor weight, int? paddingIdx = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(weight);
        weight.ExpectFloat("embedding", nameof(weight));
        if (weight.Rank != 2)
            throw new TensorShapeException($"embedding: 'weight' expected a 2-d tensor [numEmbeddings, embeddingDim], found shape {Shapes.Format(weight.Shape)}", nameof(weight));
        CheckSameDevice("embedding", indices, weight);
        int rows = weight.ShapeArray[0], width = weight.ShapeArray[1];
        long skip = -1;
        if (paddingIdx is int padding)
        {
            if (padding < -rows || padding >= rows)
                throw new ArgumentOutOfRangeException(nameof(paddingIdx), padding, $"embedding: 'paddingIdx' expected a row in [{-rows}, {rows - 1}] of weight {Shapes.Format(weight.Shape)}, found {padding}");
            skip = padding < 0 ? padding + rows : padding;
        }
        var index = IndexArgument(indices, "embedding", nameof(indices), rows, $"the rows of weight {Shapes.Format(weight.Shape)}");
        var table = weight.Contiguous();
        var y = Tensor.Allocate([.. indices.Shape, width], DType.Float32, weight.Device, zero: false);
        var selection = new SliceSelection { Outer = 1, Size = rows, Inner = width, Count = index.Numel };
        if (weight.Device.IsGpu)
            GpuIndexing.SelectForward(weight.Gpu.Launcher, table.DeviceView<float>(), index.DeviceView<long>(), selection, y.DeviceView<float>());
        else
            unsafe { Kernels.Cpu.IndexSelect.Forward(table.Pointer<float>(), index.Pointer<long>(), 1, rows, width, index.Numel, y.Pointer<float>()); }
        int[] weightShape = weight.ShapeArray;
        return AutogradEngine.Record(y, "embedding", [weight], g =>
        {
            var gradWeight = Tensor.Zeros(weightShape, DType.Float32, g.Device);
            var gradOutput = g.Contiguous();
            if (g.Device.IsGpu)
                GpuIndexing.SelectBackward(g.Gpu.Launcher, gradOutput.DeviceView<float>(), index.DeviceView<long>(), selection, skip, gradWeight.DeviceView<float>());
            else
                unsafe { Kernels.Cpu.IndexSelect.Backward(gradOutput.Pointer<float>(), index.Pointer<long>(), 1, rows, width, index.Numel, skip, gradWeight.Pointer<float>()); }
            return [gradWeight];
        });
    }

    /// <summary>
    /// result[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (likewise for other dims): the result has
    /// index's shape; index has x's rank and is no larger than x in every dim but
    /// <paramref name="dim"/> (torch.gather). The gradient scatters back and adds over repeats.
    /// </summary>
    public static Tensor Gather(Tensor x, int dim, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(index);
        x.ExpectFloat("gather", "input");
        CheckSameDevice("gather", x, index);
        if (index.Rank != x.Rank)
            throw new TensorShapeException($"gather: 'index' expected rank {x.Rank} (the input's rank, shape {Shapes.Format(x.Shape)}), found rank {index.Rank} (shape {Shapes.Format(index.Shape)})", nameof(index));
        if (x.Rank == 0)
            return Reshape(Gather(Reshape(x, 1), 0, Reshape(index, 1)), []);
        int d = Shapes.NormalizeDim(dim, x.Rank, "gather");
        CheckIndexFits("gather", "index", index, x, "input", d);
        var positions = IndexArgument(index, "gather", nameof(index), x.ShapeArray[d], $"dim {d} of input {Shapes.Format(x.Shape)}");
        var y = Tensor.Allocate(index.Shape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            // Operand A walks x with the gathered dim held at 0; the index supplies that coordinate.
            int[] strides = x.StridesArray.ToArray();
            strides[d] = 0;
            GpuIndexing.Gather(x.Gpu.Launcher, x.DeviceStorageView<float>(), positions.DeviceView<long>(), StridedIndex.Create(positions.Shape, strides),
                x.StridesArray[d], y.DeviceView<float>());
        }
        else if (y.Numel > 0)
        {
            unsafe { Kernels.Cpu.Gather.Forward(x.Pointer<float>(), x.Strides, positions.Pointer<long>(), positions.Shape, d, y.Pointer<float>()); }
        }
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(y, "gather", [x], g =>
        {
            var gradInput = Tensor.Zeros(inputShape, DType.Float32, g.Device);
            ScatterAddInto(g, positions, d, gradInput);
            return [gradInput];
        });
    }

    /// <summary>
    /// A copy of x with src[i][j][k] added at x[index[i][j][k]][j][k] for dim 0 (likewise for other
    /// dims); repeated indices add up (out-of-place torch.scatter_add). index, src and x share a
    /// rank; index is no larger than src in any dim, nor than x in any dim but <paramref name="dim"/>.
    /// Gradients: x gets the output gradient, src gets it gathered at index (zero where index does not reach).
    /// </summary>
    public static Tensor ScatterAdd(Tensor x, int dim, Tensor index, Tensor src)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(src);
        x.ExpectFloat("scatter_add", "input");
        src.ExpectFloat("scatter_add", nameof(src));
        CheckSameDevice("scatter_add", x, index, src);
        if (index.Rank != x.Rank || src.Rank != x.Rank)
            throw new TensorShapeException($"scatter_add: 'index' and 'src' expected rank {x.Rank} (the input's rank, shape {Shapes.Format(x.Shape)}), found index {Shapes.Format(index.Shape)} and src {Shapes.Format(src.Shape)}", index.Rank != x.Rank ? nameof(index) : nameof(src));
        if (x.Rank == 0)
            return Reshape(ScatterAdd(Reshape(x, 1), 0, Reshape(index, 1), Reshape(src, 1)), []);
        int d = Shapes.NormalizeDim(dim, x.Rank, "scatter_add");
        CheckIndexFits("scatter_add", "index", index, x, "input", d);
        CheckIndexFits("scatter_add", "index", index, src, "src", -1);
        var positions = IndexArgument(index, "scatter_add", nameof(index), x.ShapeArray[d], $"dim {d} of input {Shapes.Format(x.Shape)}");
        var y = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
        Tensor.CopyStrided(x, y);
        ScatterAddInto(src, positions, d, y);
        int[] sourceShape = src.ShapeArray;
        return AutogradEngine.Record(y, "scatter_add", [x, src], g =>
        {
            if (!src.RequiresGrad)
                return [g, null];
            var gathered = Gather(g, d, positions);
            if (Shapes.Equal(gathered.Shape, sourceShape))
                return [g, gathered];
            var gradSource = Tensor.Zeros(sourceShape, DType.Float32, g.Device);
            CopyRegion(gathered, new int[sourceShape.Length], gradSource, new int[sourceShape.Length], gathered.ShapeArray);
            return [g, gradSource];
        });
    }

    /// <summary>
    /// The slices of x at <paramref name="index"/> (a 1-d or one-element int64/int32 tensor) along
    /// <paramref name="dim"/>, in index order (torch.index_select). Any dtype; float inputs get a
    /// gradient that adds over repeated indices.
    /// </summary>
    public static Tensor IndexSelect(Tensor x, int dim, Tensor index)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(index);
        CheckSameDevice("index_select", x, index);
        if (index.Rank > 1)
            throw new TensorShapeException($"index_select: 'index' expected a 1-d tensor (or a single element), found shape {Shapes.Format(index.Shape)}; flatten it first", nameof(index));
        if (x.Rank == 0)
        {
            if (index.Numel != 1)
                throw new TensorShapeException($"index_select: 'index' of a 0-d input expected one element, found shape {Shapes.Format(index.Shape)}", nameof(index));
            return Reshape(IndexSelect(Reshape(x, 1), 0, Reshape(index, 1)), []);
        }
        int d = Shapes.NormalizeDim(dim, x.Rank, "index_select");
        int size = x.ShapeArray[d];
        var positions = IndexArgument(index, "index_select", nameof(index), size, $"dim {d} of input {Shapes.Format(x.Shape)}");
        int outer = 1, inner = 1, count = positions.Numel;
        for (int k = 0; k < d; k++) outer *= x.ShapeArray[k];
        for (int k = d + 1; k < x.Rank; k++) inner *= x.ShapeArray[k];
        var shape = x.ShapeArray.ToArray();
        shape[d] = count;
        var dense = x.Contiguous();
        var y = Tensor.Allocate(shape, x.DType, x.Device, zero: false);
        var selection = new SliceSelection { Outer = outer, Size = size, Inner = inner, Count = count };
        if (x.Device.IsGpu)
        {
            var launcher = x.Gpu.Launcher;
            var p = positions.DeviceView<long>();
            // Elements move as raw bits of their width, so one kernel per width serves every dtype.
            switch (x.DType.ElementSize())
            {
                case 1: GpuIndexing.SelectForward(launcher, dense.DeviceStorageView<byte>(), p, selection, y.DeviceStorageView<byte>().Slice(0, y.Numel)); break;
                case 4: GpuIndexing.SelectForward(launcher, dense.DeviceStorageView<int>(), p, selection, y.DeviceStorageView<int>().Slice(0, y.Numel)); break;
                default: GpuIndexing.SelectForward(launcher, dense.DeviceStorageView<long>(), p, selection, y.DeviceStorageView<long>().Slice(0, y.Numel)); break;
            }
        }
        else
        {
            unsafe
            {
                long* p = positions.Pointer<long>();
                switch (x.DType.ElementSize())
                {
                    case 1: Kernels.Cpu.IndexSelect.Forward(dense.Pointer<byte>(), p, outer, size, inner, count, y.Pointer<byte>()); break;
                    case 4: Kernels.Cpu.IndexSelect.Forward(dense.Pointer<int>(), p, outer, size, inner, count, y.Pointer<int>()); break;
                    default: Kernels.Cpu.IndexSelect.Forward(dense.Pointer<long>(), p, outer, size, inner, count, y.Pointer<long>()); break;
                }
            }
        }
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(y, "index_select", [x], g =>
        {
            var gradInput = Tensor.Zeros(inputShape, DType.Float32, g.Device);
            var gradOutput = g.Contiguous();
            if (g.Device.IsGpu)
            {
                GpuIndexing.SelectBackward(g.Gpu.Launcher, gradOutput.DeviceView<float>(), positions.DeviceView<long>(), selection, -1, gradInput.DeviceView<float>());
                return [gradInput];
            }
            unsafe { Kernels.Cpu.IndexSelect.Backward(gradOutput.Pointer<float>(), positions.Pointer<long>(), outer, size, inner, count, -1, gradInput.Pointer<float>()); }
            return [gradInput];
        });
    }

    /// <summary>destination[... index[i] along dim ...] += source[i] (no autograd; destination is written in place).</summary>
    private static unsafe void ScatterAddInto(Tensor source, Tensor positions, int dim, Tensor destination)
    {
        if (positions.Numel == 0)
            return;
        if (destination.Device.IsGpu)
        {
            // Operand A walks the source, operand C the destination with the scattered dim held at 0.
            int[] strides = destination.StridesArray.ToArray();
            strides[dim] = 0;
            GpuIndexing.ScatterAdd(destination.Gpu.Launcher, source.DeviceStorageView<float>(), positions.DeviceView<long>(),
                StridedIndex.Create(positions.Shape, source.StridesArray, default, strides), destination.StridesArray[dim], destination.DeviceStorageView<float>());
            return;
        }
        Kernels.Cpu.Gather.ScatterAdd(source.Pointer<float>(), source.Strides, positions.Pointer<long>(), positions.Shape, dim,
            destination.Pointer<float>(), destination.Strides);
    }

    /// <summary>
    /// Checks an index tensor's dtype (int64, or int32 which is widened) and that every value lies
    /// in [0, size); returns it as a dense int64 tensor.
    /// </summary>
    private static unsafe Tensor IndexArgument(Tensor index, string op, string argument, int size, string what)
    {
        if (index.DType is not (DType.Int64 or DType.Int32))
            throw new TensorDTypeException($"{op}: '{argument}' expected an int64 (or int32) tensor of indices, found {index.DType.Name()}; convert it with ToLong()", argument);
        var positions = ToLong(index).Contiguous();
        if (positions.Device.IsGpu)
        {
            // Checked on the device; only the first bad position (one int) comes back.
            using var firstBad = Tensor.FromArray(new[] { int.MaxValue }, 1).To(positions.Device);
            GpuIndexing.FindOutOfRange(positions.Gpu.Launcher, positions.DeviceView<long>(), size, firstBad.DeviceView<int>());
            int bad = firstBad.Item<int>();
            if (bad != int.MaxValue)
                ThrowIndexOutOfRange(op, argument, size, what, positions.ToArray<long>()[bad], bad);
            return positions;
        }
        long* p = positions.Pointer<long>();
        for (int i = 0; i < positions.Numel; i++)
        {
            if (p[i] < 0 || p[i] >= size)
                ThrowIndexOutOfRange(op, argument, size, what, p[i], i);
        }
        return positions;
    }

    private static void ThrowIndexOutOfRange(string op, string argument, int size, string what, long value, int position) =>
        throw new ArgumentOutOfRangeException(argument, value,
            $"{op}: '{argument}' expected values in [0, {size - 1}] ({what}), found {value} at flat position {position}" + (size == 0 ? "; the indexed dim is empty, so no index is valid" : ""));

    /// <summary>index.size(k) &lt;= other.size(k) for every k except <paramref name="exceptDim"/> (-1: none).</summary>
    private static void CheckIndexFits(string op, string argument, Tensor index, Tensor other, string otherName, int exceptDim)
    {
        for (int k = 0; k < index.Rank; k++)
        {
            if (k != exceptDim && index.ShapeArray[k] > other.ShapeArray[k])
                throw new TensorShapeException($"{op}: '{argument}' expected size <= {other.ShapeArray[k]} in dim {k} ({otherName} has shape {Shapes.Format(other.Shape)}), found {index.ShapeArray[k]} (index shape {Shapes.Format(index.Shape)})", argument);
        }
    }
}
