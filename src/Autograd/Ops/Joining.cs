using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>Joining and splitting along a dim: cat, stack, split, chunk.</summary>
public static partial class Functional
{
    /// <summary>
    /// Concatenates tensors of one dtype along <paramref name="dim"/>; every other dim must match
    /// (torch.cat). As in PyTorch, 1-d empty tensors (shape [0]) are skipped whatever the others' shape.
    /// Each float input gets its slice of the output gradient.
    /// </summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0)
            throw new ArgumentException("cat: 'tensors' expected at least one tensor, found an empty list", nameof(tensors));
        for (int i = 0; i < tensors.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(tensors[i], $"tensors[{i}]");
            if (tensors[i].DType != tensors[0].DType)
                throw new TensorDTypeException($"cat: 'tensors[{i}]' expected {tensors[0].DType.Name()} like tensors[0], found {tensors[i].DType.Name()}; convert it first (ToFloat, ToLong)", nameof(tensors));
        }
        CheckSameDevice("cat", [.. tensors]);
        bool Skipped(Tensor t) => t.Rank == 1 && t.Numel == 0;
        int first = Enumerable.Range(0, tensors.Count).FirstOrDefault(i => !Skipped(tensors[i]), 0);
        var reference = tensors[first];
        if (reference.Rank == 0)
            throw new TensorShapeException($"cat: 'tensors[{first}]' expected a tensor with at least one dim, found a 0-d tensor; Unsqueeze it or use Stack", nameof(tensors));
        int d = Shapes.NormalizeDim(dim, reference.Rank, "cat");
        var shape = reference.ShapeArray.ToArray();
        shape[d] = 0;
        var starts = new int[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (Skipped(t) && !ReferenceEquals(t, reference))
                continue;
            bool fits = t.Rank == reference.Rank;
            for (int k = 0; fits && k < t.Rank; k++)
                fits = k == d || t.ShapeArray[k] == reference.ShapeArray[k];
            if (!fits)
            {
                var expected = string.Join(", ", reference.ShapeArray.Select((s, k) => k == d ? "*" : s.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                throw new TensorShapeException($"cat: 'tensors[{i}]' expected shape [{expected}] (every dim but {d} equal to tensors[{first}]), found {Shapes.Format(t.Shape)}", nameof(tensors));
            }
            starts[i] = shape[d];
            shape[d] += t.ShapeArray[d];
        }
        var y = Tensor.Allocate(shape, reference.DType, reference.Device, zero: false);
        var at = new int[shape.Length];
        for (int i = 0; i < tensors.Count; i++)
        {
            if (Skipped(tensors[i]) && !ReferenceEquals(tensors[i], reference))
                continue;
            at[d] = starts[i];
            CopyRegion(tensors[i], new int[shape.Length], y, at, tensors[i].ShapeArray);
        }
        var inputs = tensors.ToArray();
        return AutogradEngine.Record(y, "cat", inputs, g => inputs.Select((t, i) =>
            t.RequiresGrad && t.Rank == g.Rank ? Narrow(g, d, starts[i], t.ShapeArray[d]) : null).ToArray());
    }

    /// <summary>Joins same-shaped tensors along a new dim <paramref name="dim"/> (torch.stack; dim may be -1 for a new last dim).</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0)
            throw new ArgumentException("stack: 'tensors' expected at least one tensor, found an empty list", nameof(tensors));
        for (int i = 1; i < tensors.Count; i++)
        {
            if (!Shapes.Equal(tensors[i].Shape, tensors[0].Shape))
                throw new TensorShapeException($"stack: 'tensors[{i}]' expected shape {Shapes.Format(tensors[0].Shape)} like tensors[0], found {Shapes.Format(tensors[i].Shape)}", nameof(tensors));
        }
        int d = Shapes.NormalizeDim(dim, tensors[0].Rank + 1, "stack");
        return Cat(tensors.Select(t => Unsqueeze(t, d)).ToArray(), d);
    }

    /// <summary>
    /// Views of consecutive pieces of <paramref name="splitSize"/> along <paramref name="dim"/>;
    /// the last one is smaller when the size does not divide evenly (torch.split).
    /// </summary>
    public static Tensor[] Split(Tensor x, int splitSize, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        int d = Shapes.NormalizeDim(dim, x.Rank, "split");
        int size = x.ShapeArray[d];
        if (splitSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(splitSize), splitSize, $"split: 'splitSize' expected a positive size, found {splitSize}");
        int count = Math.Max(1, (size + splitSize - 1) / splitSize);
        var sizes = new int[count];
        for (int i = 0; i < count; i++)
            sizes[i] = Math.Min(splitSize, size - i * splitSize);
        return Split(x, sizes, d);
    }

    /// <summary>Views of pieces of the given sizes along <paramref name="dim"/>; the sizes must add up to that dim (torch.split with a list).</summary>
    public static Tensor[] Split(Tensor x, int[] splitSizes, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(splitSizes);
        int d = Shapes.NormalizeDim(dim, x.Rank, "split");
        int size = x.ShapeArray[d];
        foreach (int piece in splitSizes)
        {
            if (piece < 0)
                throw new ArgumentOutOfRangeException(nameof(splitSizes), piece, $"split: 'splitSizes' expected non-negative sizes, found {piece} in [{string.Join(", ", splitSizes)}]");
        }
        if (splitSizes.Sum() != size)
            throw new ArgumentException($"split: 'splitSizes' expected sizes adding up to {size} (dim {d} of shape {Shapes.Format(x.Shape)}), found [{string.Join(", ", splitSizes)}] adding up to {splitSizes.Sum()}", nameof(splitSizes));
        var pieces = new Tensor[splitSizes.Length];
        for (int i = 0, start = 0; i < splitSizes.Length; start += splitSizes[i], i++)
            pieces[i] = Narrow(x, d, start, splitSizes[i]);
        return pieces;
    }

    /// <summary>
    /// Splits into at most <paramref name="chunks"/> views of ceil(size / chunks) along
    /// <paramref name="dim"/>, the last possibly smaller, fewer when the size runs out (torch.chunk).
    /// </summary>
    public static Tensor[] Chunk(Tensor x, int chunks, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (chunks <= 0)
            throw new ArgumentOutOfRangeException(nameof(chunks), chunks, $"chunk: 'chunks' expected a positive count, found {chunks}");
        int d = Shapes.NormalizeDim(dim, x.Rank, "chunk");
        int size = x.ShapeArray[d];
        if (size == 0)
            return Split(x, new int[chunks], d);
        return Split(x, (size + chunks - 1) / chunks, d);
    }

    /// <summary>
    /// Copies the box of <paramref name="shape"/> starting at <paramref name="sourceStart"/> in
    /// source to the box starting at <paramref name="destinationStart"/> in destination (any
    /// strides, any dtype; no autograd).
    /// </summary>
    internal static void CopyRegion(Tensor source, int[] sourceStart, Tensor destination, int[] destinationStart, int[] shape) =>
        CopyStrided(source, Offset(source, sourceStart), source.StridesArray, destination, Offset(destination, destinationStart), shape);

    /// <summary>The raw copy behind <see cref="CopyRegion"/>: source read at any element offset and strides (negative ones flip).</summary>
    internal static unsafe void CopyStrided(Tensor source, long sourceOffset, int[] sourceStrides, Tensor destination, long destinationOffset, int[] shape)
    {
        if (Shapes.Numel(shape) == 0)
            return;
        int[] destinationStrides = destination.StridesArray;
        if (destination.Device.IsGpu)
        {
            CheckSameDevice("copy", destination, source);
            var launcher = destination.Gpu.Launcher;
            var index = StridedIndex.Create(shape, sourceStrides, destinationStrides);
            int count = Shapes.Numel(shape), from = checked((int)sourceOffset), to = checked((int)destinationOffset);
            // Elements move as raw bits of their width, so one kernel per width serves every dtype.
            switch (source.DType.ElementSize())
            {
                case 1: GpuElementwise.Copy(launcher, source.DeviceStorageView<byte>(), from, index, count, destination.DeviceStorageView<byte>(), to); break;
                case 4: GpuElementwise.Copy(launcher, source.DeviceStorageView<int>(), from, index, count, destination.DeviceStorageView<int>(), to); break;
                default: GpuElementwise.Copy(launcher, source.DeviceStorageView<long>(), from, index, count, destination.DeviceStorageView<long>(), to); break;
            }
            return;
        }
        switch (source.DType.ElementSize())
        {
            case 1: StridedCopy.Run(source.Pointer<byte>() + sourceOffset, sourceStrides, destination.Pointer<byte>() + destinationOffset, destinationStrides, shape); break;
            case 4: StridedCopy.Run(source.Pointer<int>() + sourceOffset, sourceStrides, destination.Pointer<int>() + destinationOffset, destinationStrides, shape); break;
            default: StridedCopy.Run(source.Pointer<long>() + sourceOffset, sourceStrides, destination.Pointer<long>() + destinationOffset, destinationStrides, shape); break;
        }
    }

    private static long Offset(Tensor t, int[] start)
    {
        long offset = 0;
        for (int k = 0; k < start.Length; k++)
            offset += (long)start[k] * t.StridesArray[k];
        return offset;
    }
}
