namespace Tessera.Autograd;

/// <summary>
/// A tensor's sizes, read-only: indexes, slices and converts to <see cref="ReadOnlySpan{T}"/>
/// like the span it wraps, compares by value, and prints as PyTorch users expect
/// (<c>Console.WriteLine(t.Shape)</c> prints <c>[32, 10]</c>). No copy is made: it wraps the
/// tensor's own (never modified) size array.
/// </summary>
public readonly struct TensorShape : IEquatable<TensorShape>
{
    private readonly int[] _sizes;

    internal TensorShape(int[] sizes) => _sizes = sizes;

    private int[] Sizes => _sizes ?? [];

    /// <summary>Number of dimensions.</summary>
    public int Length => Sizes.Length;

    /// <summary>Size of dimension <paramref name="index"/> (negative indices via <c>^1</c>).</summary>
    public int this[int index] => Sizes[index];

    /// <summary>Dimensions <paramref name="start"/> .. start + length - 1 (what <c>shape[1..]</c> calls).</summary>
    public ReadOnlySpan<int> Slice(int start, int length) => Sizes.AsSpan(start, length);

    /// <summary>The sizes as a span.</summary>
    public ReadOnlySpan<int> AsSpan() => Sizes;

    /// <summary>A copy of the sizes.</summary>
    public int[] ToArray() => (int[])Sizes.Clone();

    /// <summary>Whether the sizes equal <paramref name="other"/>'s, element by element.</summary>
    public bool SequenceEqual(ReadOnlySpan<int> other) => Sizes.AsSpan().SequenceEqual(other);

    public ReadOnlySpan<int>.Enumerator GetEnumerator() => AsSpan().GetEnumerator();

    public static implicit operator ReadOnlySpan<int>(TensorShape shape) => shape.Sizes;

    /// <summary>"[32, 10]" ("[]" for a scalar).</summary>
    public override string ToString() => "[" + string.Join(", ", Sizes) + "]";

    public bool Equals(TensorShape other) => SequenceEqual(other.Sizes);

    public override bool Equals(object? obj) => obj is TensorShape other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int size in Sizes) hash.Add(size);
        return hash.ToHashCode();
    }

    public static bool operator ==(TensorShape left, TensorShape right) => left.Equals(right);

    public static bool operator !=(TensorShape left, TensorShape right) => !left.Equals(right);
}
