using System.Text;

namespace Tessera.Engine;

/// <summary>Shape arithmetic shared by every op: element counts, strides, dims, broadcasting.</summary>
public static class Shapes
{
    /// <summary>Element count; throws when it would not fit a 32-bit index.</summary>
    public static int Numel(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int size in shape)
        {
            if (size < 0)
                throw new ArgumentException($"shape {Format(shape)}: sizes must be non-negative, found {size}");
            count *= size;
            if (count > int.MaxValue)
                throw new ArgumentException($"shape {Format(shape)} has more than {int.MaxValue} elements; Tessera indexes tensors with 32-bit offsets");
        }
        return (int)count;
    }

    /// <summary>Row-major strides of a dense tensor of <paramref name="shape"/>.</summary>
    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = stride;
            stride *= Math.Max(shape[d], 1);
        }
        return strides;
    }

    /// <summary>Maps a possibly negative dim into [0, rank).</summary>
    public static int NormalizeDim(int dim, int rank, string op, string argument = "dim")
    {
        int normalized = dim < 0 ? dim + rank : dim;
        if (normalized < 0 || normalized >= Math.Max(rank, 1) || (rank == 0 && dim is not (0 or -1)))
            throw new ArgumentOutOfRangeException(argument, dim, $"{op}: '{argument}' expected a dim in [{-Math.Max(rank, 1)}, {Math.Max(rank, 1) - 1}] for a tensor of rank {rank}, found {dim}");
        return normalized;
    }

    /// <summary>Normalises a dim list (null or empty = every dim), sorted, without repeats.</summary>
    public static int[] NormalizeDims(ReadOnlySpan<int> dims, int rank, string op)
    {
        if (dims.IsEmpty)
            return Enumerable.Range(0, rank).ToArray();
        var result = new SortedSet<int>();
        foreach (int dim in dims)
        {
            if (!result.Add(NormalizeDim(dim, rank, op)))
                throw new ArgumentException($"{op}: 'dims' expected distinct dims, found {dim} twice in [{string.Join(", ", dims.ToArray())}]", nameof(dims));
        }
        return result.ToArray();
    }

    /// <summary>The broadcast shape of two shapes (NumPy rules), or a clear error naming the op.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int sa = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int sb = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (sa != sb && sa != 1 && sb != 1)
                throw new TensorShapeException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dim {i}: {sa} vs {sb}); sizes must match or be 1");
            result[i] = sa == 1 ? sb : sa;
        }
        return result;
    }

    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>"[2, 3, 4]".</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        var text = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) text.Append(", ");
            text.Append(shape[i]);
        }
        return text.Append(']').ToString();
    }
}
