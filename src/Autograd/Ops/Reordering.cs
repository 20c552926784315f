using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>Ops that move elements without changing them: flip and roll (each a copy, as in PyTorch).</summary>
public static partial class Functional
{
    /// <summary>Reverses the order of elements along each of <paramref name="dims"/> (torch.flip; a copy). Any dtype.</summary>
    public static Tensor Flip(Tensor x, params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(dims);
        var flipped = new bool[Math.Max(x.Rank, 1)];
        foreach (int dim in dims)
        {
            int d = Shapes.NormalizeDim(dim, x.Rank, "flip", nameof(dims));
            if (flipped[d])
                throw new ArgumentException($"flip: 'dims' expected distinct dims, found dim {d} twice in [{string.Join(", ", dims)}]", nameof(dims));
            flipped[d] = true;
        }
        // Read x through a view whose flipped dims start at the far end and walk backwards.
        var strides = x.StridesArray.ToArray();
        long offset = 0;
        for (int d = 0; d < x.Rank; d++)
        {
            if (!flipped[d] || x.ShapeArray[d] == 0) continue;
            offset += (long)(x.ShapeArray[d] - 1) * strides[d];
            strides[d] = -strides[d];
        }
        var y = Tensor.Allocate(x.Shape, x.DType, x.Device, zero: false);
        CopyStrided(x, offset, strides, y, 0, x.ShapeArray);
        return AutogradEngine.Record(y, "flip", [x], g => [Flip(g, dims)]);
    }

    /// <summary>Rolls by one shift along <paramref name="dim"/>, or the flattened tensor when dim is null (torch.roll with ints).</summary>
    public static Tensor Roll(Tensor x, int shift, int? dim = null) => Roll(x, [shift], dim is null ? null : [dim.Value]);

    /// <summary>
    /// Shifts elements along <paramref name="dims"/> by <paramref name="shifts"/> (negative shifts
    /// move towards the start), wrapping around (torch.roll). With <paramref name="dims"/> null or
    /// empty, rolls the flattened tensor by a single shift and restores the shape. Any dtype.
    /// </summary>
    public static Tensor Roll(Tensor x, int[] shifts, int[]? dims = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(shifts);
        if (dims is null || dims.Length == 0)
        {
            if (shifts.Length != 1)
                throw new ArgumentException($"roll: 'shifts' expected one shift when no dims are given (the flattened tensor is rolled), found [{string.Join(", ", shifts)}]", nameof(shifts));
            return Reshape(Roll(Reshape(x, -1), shifts, [0]), x.ShapeArray);
        }
        if (shifts.Length != dims.Length)
            throw new ArgumentException($"roll: 'shifts' expected one shift per dim ({dims.Length} dims [{string.Join(", ", dims)}]), found {shifts.Length} shifts [{string.Join(", ", shifts)}]", nameof(shifts));
        // Total shift per dim in [0, size) (a dim may be named twice; its shifts add).
        var total = new long[x.Rank];
        for (int i = 0; i < dims.Length; i++)
            total[Shapes.NormalizeDim(dims[i], x.Rank, "roll", nameof(dims))] += shifts[i];
        var rolled = new List<int>();
        var amount = new int[x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            int size = x.ShapeArray[d];
            amount[d] = size == 0 ? 0 : (int)(((total[d] % size) + size) % size);
            if (amount[d] != 0) rolled.Add(d);
        }
        var y = Tensor.Allocate(x.Shape, x.DType, x.Device, zero: false);
        // Each rolled dim splits into two blocks that swap places: input [0, n - s) goes to
        // [s, n) and input [n - s, n) to [0, s). Copy every combination of blocks once.
        for (int combination = 0; combination < 1 << rolled.Count; combination++)
        {
            var sourceStart = new int[x.Rank];
            var destinationStart = new int[x.Rank];
            var shape = x.ShapeArray.ToArray();
            for (int k = 0; k < rolled.Count; k++)
            {
                int d = rolled[k], size = x.ShapeArray[d], s = amount[d];
                bool wrapped = (combination >> k & 1) == 1;
                sourceStart[d] = wrapped ? size - s : 0;
                destinationStart[d] = wrapped ? 0 : s;
                shape[d] = wrapped ? s : size - s;
            }
            CopyRegion(x, sourceStart, y, destinationStart, shape);
        }
        var inverse = shifts.Select(s => -s).ToArray();
        return AutogradEngine.Record(y, "roll", [x], g => [Roll(g, inverse, dims)]);
    }
}
