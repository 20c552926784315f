using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>
/// Differentiable tensor ops (torch.nn.functional plus torch.* tensor ops). Every op checks its
/// arguments, computes on the CPU kernels, and records its backward rule when grad is on.
/// This file: views, which share memory with their input.
/// </summary>
public static partial class Functional
{
    /// <summary>Dense copy of a strided view; the gradient passes through unchanged.</summary>
    internal static Tensor StridedToDense(Tensor x)
    {
        var result = Tensor.Allocate(x.Shape, x.DType, x.Device, zero: false);
        Tensor.CopyStrided(x, result);
        return AutogradEngine.Record(result, "contiguous", [x], g => [g]);
    }

    /// <summary>A new tensor with its own copy of the data (differentiable).</summary>
    public static Tensor Clone(Tensor x)
    {
        var result = Tensor.Allocate(x.Shape, x.DType, x.Device, zero: false);
        Tensor.CopyStrided(x, result);
        return AutogradEngine.Record(result, "clone", [x], g => [g]);
    }

    /// <summary>Same data, new shape (one dim may be -1). Copies only when the input is not contiguous.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        int[] target = InferShape(shape, x.Numel, "reshape");
        var dense = x.Contiguous();
        var result = dense.View(target, Shapes.ContiguousStrides(target), dense.Offset);
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(result, "reshape", [dense], g => [Reshape(g, inputShape)]);
    }

    /// <summary>A view with a new shape; the input must be contiguous (use Reshape otherwise).</summary>
    public static Tensor View(Tensor x, params int[] shape)
    {
        if (!x.IsContiguous)
            throw new ArgumentException($"view: expected a contiguous tensor, found a strided view of shape {Shapes.Format(x.Shape)}; call Reshape (which copies when needed) or Contiguous() first", nameof(x));
        return Reshape(x, shape);
    }

    /// <summary>Reorders dims: result dim i is input dim dims[i].</summary>
    public static Tensor Permute(Tensor x, params int[] dims)
    {
        if (dims.Length != x.Rank)
            throw new TensorShapeException($"permute: 'dims' expected {x.Rank} dims for a tensor of shape {Shapes.Format(x.Shape)}, found {dims.Length}", nameof(dims));
        var normalized = new int[dims.Length];
        var seen = new bool[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            normalized[i] = Shapes.NormalizeDim(dims[i], x.Rank, "permute", nameof(dims));
            if (seen[normalized[i]])
                throw new ArgumentException($"permute: 'dims' expected a permutation of 0..{x.Rank - 1}, found [{string.Join(", ", dims)}]", nameof(dims));
            seen[normalized[i]] = true;
        }
        var shape = new int[dims.Length];
        var strides = new int[dims.Length];
        var inverse = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            shape[i] = x.ShapeArray[normalized[i]];
            strides[i] = x.StridesArray[normalized[i]];
            inverse[normalized[i]] = i;
        }
        var result = x.View(shape, strides, x.Offset);
        return AutogradEngine.Record(result, "permute", [x], g => [Permute(g, inverse)]);
    }

    /// <summary>Swaps two dims.</summary>
    public static Tensor Transpose(Tensor x, int dim0, int dim1)
    {
        var dims = Enumerable.Range(0, x.Rank).ToArray();
        int a = Shapes.NormalizeDim(dim0, x.Rank, "transpose", nameof(dim0));
        int b = Shapes.NormalizeDim(dim1, x.Rank, "transpose", nameof(dim1));
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(x, dims);
    }

    /// <summary>Elements [start, start + length) along dim, as a view.</summary>
    public static Tensor Narrow(Tensor x, int dim, int start, int length) => Slice(x, dim, start, start + length, 1);

    /// <summary>Elements start, start + step, ... below end along dim (Python slicing; negative start/end count from the end).</summary>
    public static Tensor Slice(Tensor x, int dim, int start, int end, int step = 1)
    {
        int d = Shapes.NormalizeDim(dim, x.Rank, "slice");
        int size = x.ShapeArray[d];
        if (step < 1)
            throw new ArgumentOutOfRangeException(nameof(step), step, $"slice: 'step' expected a positive step, found {step}");
        if (start < 0) start += size;
        if (end < 0) end += size;
        end = Math.Min(end, size);
        if (start < 0 || start > size)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"slice: 'start' expected a position in [0, {size}] of dim {d} (size {size}), found {start}");
        int length = Math.Max(0, (end - start + step - 1) / step);
        var shape = (int[])x.ShapeArray.Clone();
        var strides = (int[])x.StridesArray.Clone();
        shape[d] = length;
        strides[d] *= step;
        var result = x.View(shape, strides, x.Offset + start * x.StridesArray[d]);
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(result, "slice", [x], g =>
        {
            var grad = Tensor.Zeros(inputShape, DType.Float32, g.Device);
            using (GradMode.NoGrad())
                Slice(grad, d, start, start + length * step, step).CopyFrom(g);
            return [grad];
        });
    }

    /// <summary>The slice at <paramref name="index"/> along dim, with that dim removed.</summary>
    public static Tensor Select(Tensor x, int dim, int index)
    {
        int d = Shapes.NormalizeDim(dim, x.Rank, "select");
        int size = x.ShapeArray[d];
        if (index < -size || index >= size)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"select: 'index' expected a value in [{-size}, {size - 1}] for dim {d}, found {index}");
        if (index < 0) index += size;
        return Squeeze(Narrow(x, d, index, 1), d);
    }

    /// <summary>Broadcasts size-1 dims (and new leading dims) to <paramref name="shape"/> without copying; -1 keeps a size.</summary>
    public static Tensor Expand(Tensor x, params int[] shape)
    {
        if (shape.Length < x.Rank)
            throw new TensorShapeException($"expand: 'shape' expected at least {x.Rank} dims, found {Shapes.Format(shape)}", nameof(shape));
        int lead = shape.Length - x.Rank;
        var target = new int[shape.Length];
        var strides = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            int source = i < lead ? 1 : x.ShapeArray[i - lead];
            int wanted = shape[i] == -1 && i >= lead ? source : shape[i];
            if (source != wanted && source != 1)
                throw new TensorShapeException($"expand: cannot expand shape {Shapes.Format(x.Shape)} to {Shapes.Format(shape)} (dim {i}: {source} is neither {wanted} nor 1)", nameof(shape));
            target[i] = wanted;
            strides[i] = i < lead || source != wanted ? 0 : x.StridesArray[i - lead];
        }
        var result = x.View(target, strides, x.Offset);
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(result, "expand", [x], g => [SumToShape(g, inputShape)]);
    }

    /// <summary>Removes dim (or every size-1 dim when dim is null); a view.</summary>
    public static Tensor Squeeze(Tensor x, int? dim = null)
    {
        int? only = dim is null ? null : Shapes.NormalizeDim(dim.Value, x.Rank, "squeeze");
        var shape = new List<int>();
        var strides = new List<int>();
        for (int i = 0; i < x.Rank; i++)
        {
            bool drop = x.ShapeArray[i] == 1 && (only is null || only == i);
            if (drop) continue;
            shape.Add(x.ShapeArray[i]);
            strides.Add(x.StridesArray[i]);
        }
        return RestrideView(x, shape.ToArray(), strides.ToArray(), "squeeze");
    }

    /// <summary>Inserts a size-1 dim at position dim (negative counts from the end of the result); a view.</summary>
    public static Tensor Unsqueeze(Tensor x, int dim)
    {
        int d = Shapes.NormalizeDim(dim, x.Rank + 1, "unsqueeze");
        var shape = x.ShapeArray.ToList();
        var strides = x.StridesArray.ToList();
        shape.Insert(d, 1);
        strides.Insert(d, d < x.Rank ? x.StridesArray[d] * x.ShapeArray[d] : 1);
        return RestrideView(x, shape.ToArray(), strides.ToArray(), "unsqueeze");
    }

    /// <summary>Merges dims startDim..endDim into one.</summary>
    public static Tensor Flatten(Tensor x, int startDim = 0, int endDim = -1)
    {
        if (x.Rank == 0) return Reshape(x, 1);
        int s = Shapes.NormalizeDim(startDim, x.Rank, "flatten", nameof(startDim));
        int e = Shapes.NormalizeDim(endDim, x.Rank, "flatten", nameof(endDim));
        if (s > e)
            throw new ArgumentException($"flatten: expected startDim <= endDim, found {startDim} > {endDim}", nameof(startDim));
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(x.ShapeArray[i]);
        int merged = 1;
        for (int i = s; i <= e; i++) merged *= x.ShapeArray[i];
        shape.Add(merged);
        for (int i = e + 1; i < x.Rank; i++) shape.Add(x.ShapeArray[i]);
        return Reshape(x, shape.ToArray());
    }

    private static Tensor RestrideView(Tensor x, int[] shape, int[] strides, string op)
    {
        var result = x.View(shape, strides, x.Offset);
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(result, op, [x], g => [Reshape(g, inputShape)]);
    }

    /// <summary>Sums a broadcast gradient back down to <paramref name="shape"/> (the backward of broadcasting).</summary>
    public static Tensor SumToShape(Tensor grad, ReadOnlySpan<int> shape)
    {
        if (Shapes.Equal(grad.Shape, shape))
            return grad;
        int lead = grad.Rank - shape.Length;
        var dims = new List<int>();
        for (int i = 0; i < grad.Rank; i++)
            if (i < lead || (shape[i - lead] == 1 && grad.ShapeArray[i] != 1))
                dims.Add(i);
        var summed = dims.Count > 0 ? Sum(grad, dims.ToArray(), keepDim: true) : grad;
        return Reshape(summed, shape.ToArray());
    }

    private static int[] InferShape(int[] shape, int numel, string op)
    {
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (inferred >= 0)
                    throw new TensorShapeException($"{op}: only one dim may be -1, found [{string.Join(", ", shape)}]");
                inferred = i;
            }
            else if (shape[i] < 0)
            {
                throw new TensorShapeException($"{op}: sizes must be non-negative or -1, found [{string.Join(", ", shape)}]");
            }
            else
            {
                known *= shape[i];
            }
        }
        var result = (int[])shape.Clone();
        if (inferred >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new TensorShapeException($"{op}: cannot infer the -1 in [{string.Join(", ", shape)}] for {numel} elements");
            result[inferred] = (int)(numel / known);
        }
        else if (known != numel)
        {
            throw new TensorShapeException($"{op}: shape [{string.Join(", ", shape)}] holds {known} elements, but the input has {numel}; sizes must multiply to the same count");
        }
        return result;
    }
}
