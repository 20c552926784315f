using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>How <see cref="Functional.Pad"/> fills the new border (torch.nn.functional.pad modes).</summary>
public enum PaddingMode
{
    /// <summary>A fixed value; negative pads crop. Any number of trailing dims.</summary>
    Constant,

    /// <summary>Mirror without repeating the edge; each pad must be smaller than its dim.</summary>
    Reflect,

    /// <summary>Repeat the edge element.</summary>
    Replicate,

    /// <summary>Wrap around; each pad must be at most its dim.</summary>
    Circular,
}

/// <summary>Padding (torch.nn.functional.pad).</summary>
public static partial class Functional
{
    /// <summary>
    /// Pads the trailing dims of x. <paramref name="pads"/> is in PyTorch order, last dim first:
    /// (left, right) for the last dim, then (top, bottom) for the one before, and so on.
    /// Constant mode pads any number of dims with <paramref name="value"/> and crops where a pad is
    /// negative; reflect, replicate and circular pad the last 1, 2 or 3 dims of a tensor with one
    /// or two leading (batch, channel) dims, as PyTorch does.
    /// </summary>
    public static Tensor Pad(Tensor x, int[] pads, PaddingMode mode = PaddingMode.Constant, float value = 0f)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(pads);
        x.ExpectFloat("pad", "input");
        if (pads.Length % 2 != 0 || pads.Length / 2 > x.Rank)
            throw new ArgumentException($"pad: 'pads' expected an even count of at most {2 * x.Rank} values (a before/after pair per dim of shape {Shapes.Format(x.Shape)}), found {pads.Length}", nameof(pads));
        int padded = pads.Length / 2;
        var before = new int[x.Rank];
        var after = new int[x.Rank];
        var shape = x.ShapeArray.ToArray();
        for (int j = 0; j < padded; j++)
        {
            int d = x.Rank - 1 - j;
            before[d] = pads[2 * j];
            after[d] = pads[2 * j + 1];
            shape[d] += before[d] + after[d];
            if (shape[d] < 0)
                throw new ArgumentException($"pad: 'pads' ({before[d]}, {after[d]}) for dim {d} of size {x.ShapeArray[d]} expected a non-negative result size, found {shape[d]}", nameof(pads));
        }
        return mode == PaddingMode.Constant ? PadConstant(x, before, after, shape, value) : PadIndexed(x, before, after, shape, padded, mode);
    }

    private static Tensor PadConstant(Tensor x, int[] before, int[] after, int[] shape, float value)
    {
        if (x.Device.IsGpu)
            return PadConstantGpu(x, before, after, shape, value);
        // The part of x that survives cropping, and where it lands in the result.
        var sourceStart = new int[x.Rank];
        var destinationStart = new int[x.Rank];
        var kept = new int[x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            sourceStart[d] = Math.Max(0, -before[d]);
            destinationStart[d] = Math.Max(0, before[d]);
            kept[d] = Math.Max(0, x.ShapeArray[d] - sourceStart[d] - Math.Max(0, -after[d]));
        }
        var y = Tensor.Full(shape, value, x.Device);
        CopyRegion(x, sourceStart, y, destinationStart, kept);
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(y, "pad", [x], g =>
        {
            var gradInput = Tensor.Zeros(inputShape, DType.Float32, g.Device);
            CopyRegion(g, destinationStart, gradInput, sourceStart, kept);
            return [gradInput];
        });
    }

    private static Tensor PadIndexed(Tensor x, int[] before, int[] after, int[] shape, int padded, PaddingMode mode)
    {
        string name = mode.ToString().ToLowerInvariant();
        if (padded is < 1 or > 3 || x.Rank < padded + 1 || x.Rank > padded + 2)
            throw new ArgumentException($"pad: {name} mode expected pads for the last 1, 2 or 3 dims of a tensor with 1 or 2 leading dims, found {2 * padded} pad values for shape {Shapes.Format(x.Shape)}", "pads");
        int lead = x.Rank - padded;
        for (int d = lead; d < x.Rank; d++)
        {
            int size = x.ShapeArray[d];
            int largest = Math.Max(before[d], after[d]);
            (bool allowed, string rule) = mode switch
            {
                PaddingMode.Reflect => (largest < size, $"pads < {size} (the dim's size)"),
                PaddingMode.Circular => (largest <= size, $"pads <= {size} (the dim's size)"),
                _ => (largest <= 0 || size > 0, "no positive pad of an empty dim"),
            };
            if (!allowed)
                throw new ArgumentOutOfRangeException("pads", largest, $"pad: {name} padding of dim {d} (size {size}) expected {rule}, found ({before[d]}, {after[d]})");
        }
        var offsets = Kernels.Cpu.Pad.SourceOffsets(x.ShapeArray.AsSpan(lead), before.AsSpan(lead), after.AsSpan(lead), mode switch
        {
            PaddingMode.Reflect => PadMode.Reflect,
            PaddingMode.Replicate => PadMode.Replicate,
            _ => PadMode.Circular,
        });
        int planes = 1, inputPlane = 1;
        for (int d = 0; d < lead; d++) planes *= x.ShapeArray[d];
        for (int d = lead; d < x.Rank; d++) inputPlane *= x.ShapeArray[d];
        if (x.Device.IsGpu)
            return PadTableGpu(x, offsets, planes, inputPlane, shape, 0f);
        var dense = x.Contiguous();
        var y = Tensor.Allocate(shape, DType.Float32, x.Device, zero: false);
        unsafe { Kernels.Cpu.Pad.Forward(dense.Pointer<float>(), offsets, planes, inputPlane, y.Pointer<float>()); }
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(y, "pad", [x], g =>
        {
            var gradInput = Tensor.Zeros(inputShape, DType.Float32, g.Device);
            var gradOutput = g.Contiguous();
            unsafe { Kernels.Cpu.Pad.Backward(gradOutput.Pointer<float>(), offsets, planes, inputPlane, gradInput.Pointer<float>()); }
            return [gradInput];
        });
    }
}
