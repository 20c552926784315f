using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// The elementwise GPU kernels: one thread per output element, generic over a functor struct so
/// each op is one monomorphised PTX kernel. Inputs are read through a <see cref="StridedIndex"/>
/// (any strides, 0 for broadcast dims); outputs are dense (<see cref="Copy{T}"/> excepted).
/// Launch with <see cref="BlockSize"/> threads per block and ceil(count / BlockSize) blocks.
/// </summary>
public static class ElementwiseKernels
{
    public const int BlockSize = 256;

    /// <summary>output[i] = op(input[A(i)]). Overwrites output.</summary>
    [Kernel]
    public static void Map<TOp>(
        // strided, addressed by index operand A
        DeviceSpan<float> input,
        StridedIndex index,
        TOp op,
        // [count], dense
        DeviceSpan<float> output)
        where TOp : struct, IFloatMap
    {
        if (Elementwise.Index(output.Length, out int i))
        {
            index.Offsets(i, out int a, out _, out _);
            output[i] = op.Apply(input[a]);
        }
    }

    /// <summary>gradInput[i] = gradOutput[i] · op'(input[i]) over dense tensors. Overwrites gradInput.</summary>
    [Kernel]
    public static void MapBackward<TOp>(
        // [count]
        DeviceSpan<float> input,
        DeviceSpan<float> gradOutput,
        TOp op,
        // [count]
        DeviceSpan<float> gradInput)
        where TOp : struct, IFloatMapGradient
    {
        if (Elementwise.Index(gradInput.Length, out int i))
            gradInput[i] = gradOutput[i] * op.Derivative(input[i]);
    }

    /// <summary>output[i] = op(a[A(i)], b[B(i)]) (broadcasting through 0 strides). Overwrites output.</summary>
    [Kernel]
    public static void Binary<TOp>(
        // strided, addressed by index operands A and B
        DeviceSpan<float> a,
        DeviceSpan<float> b,
        StridedIndex index,
        // [count], dense
        DeviceSpan<float> output)
        where TOp : IBinaryOp<float>
    {
        if (Elementwise.Index(output.Length, out int i))
        {
            index.Offsets(i, out int oa, out int ob, out _);
            output[i] = TOp.Apply(a[oa], b[ob]);
        }
    }

    /// <summary>output[i] = a[A(i)] op b[B(i)] as a bool. Overwrites output.</summary>
    [Kernel]
    public static void Compare<TOp>(
        // strided, addressed by index operands A and B
        DeviceSpan<float> a,
        DeviceSpan<float> b,
        StridedIndex index,
        // [count], dense
        DeviceSpan<bool> output)
        where TOp : IFloatPredicate
    {
        if (Elementwise.Index(output.Length, out int i))
        {
            index.Offsets(i, out int oa, out int ob, out _);
            output[i] = TOp.Apply(a[oa], b[ob]);
        }
    }

    /// <summary>output[i] = condition[C(i)] ? a[A(i)] : b[B(i)]. Overwrites output.</summary>
    [Kernel]
    public static void Where(
        // strided, addressed by index operand C
        DeviceSpan<bool> condition,
        // strided, addressed by index operands A and B
        DeviceSpan<float> a,
        DeviceSpan<float> b,
        StridedIndex index,
        // [count], dense
        DeviceSpan<float> output)
    {
        if (Elementwise.Index(output.Length, out int i))
        {
            index.Offsets(i, out int oa, out int ob, out int oc);
            output[i] = condition[oc] ? a[oa] : b[ob];
        }
    }

    /// <summary>output[i] = convert(input[i]) over dense tensors. Overwrites output.</summary>
    [Kernel]
    public static void Cast<TIn, TOut, TOp>(
        // [count]
        DeviceSpan<TIn> input,
        // [count]
        DeviceSpan<TOut> output)
        where TIn : unmanaged
        where TOut : unmanaged
        where TOp : IConversion<TIn, TOut>
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] = TOp.Convert(input[i]);
    }

    /// <summary>
    /// destination[destinationStart + B(i)] = source[sourceStart + A(i)] for the
    /// <paramref name="count"/> elements of the index's shape (both sides strided; a negative
    /// stride walks backwards from its start). Overwrites the addressed destination elements only.
    /// </summary>
    [Kernel]
    public static void Copy<T>(
        // strided, addressed by index operand A from sourceStart
        DeviceSpan<T> source,
        StridedIndex index,
        int sourceStart,
        int destinationStart,
        int count,
        // strided, addressed by index operand B from destinationStart
        DeviceSpan<T> destination)
        where T : unmanaged
    {
        if (Elementwise.Index(count, out int i))
        {
            index.Offsets(i, out int a, out int b, out _);
            destination[destinationStart + b] = source[sourceStart + a];
        }
    }
}
