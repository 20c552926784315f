using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Copies between strided views, fills and their host-side launchers: what Contiguous(),
/// CopyFrom and Fill of a GPU tensor run. Element types are moved as raw bits (byte, int, long),
/// so one kernel serves bool, float32/int32 and int64.
/// </summary>
public static class GpuMemoryKernels
{
    public const int BlockSize = 256;

    /// <summary>destination[destinationLayout(i)] = source[sourceLayout(i)] for every row-major index i &lt; count (grid-stride loop).</summary>
    [Kernel]
    public static void StridedCopy<T>(DeviceSpan<T> source, StridedLayout sourceLayout, DeviceSpan<T> destination, StridedLayout destinationLayout, int count)
        where T : unmanaged
    {
        for (int i = Grid.GlobalX; i < count; i += Grid.StrideX)
            destination[destinationLayout.Offset(i)] = source[sourceLayout.Offset(i)];
    }

    /// <summary>destination[i] = value for i &lt; destination.Length.</summary>
    [Kernel]
    public static void Fill<T>(DeviceSpan<T> destination, T value) where T : unmanaged
    {
        for (int i = Grid.GlobalX; i < destination.Length; i += Grid.StrideX)
            destination[i] = value;
    }

    /// <summary>Blocks for a grid-stride loop over <paramref name="count"/> elements (at most 4096 blocks: each thread loops).</summary>
    public static int Blocks(long count) => (int)Math.Clamp((count + BlockSize - 1) / BlockSize, 1, 4096);

    /// <summary>
    /// Copies the view (<paramref name="shape"/>, <paramref name="sourceStrides"/>) starting at
    /// <paramref name="source"/> into the view (<paramref name="shape"/>, <paramref name="destinationStrides"/>)
    /// starting at <paramref name="destination"/>; both address elements of <paramref name="elementSize"/> bytes.
    /// Spans start at the views' first elements and reach as far as their storage does.
    /// </summary>
    public static void Copy(GpuContext context, int elementSize, DevicePointer source, long sourceElements, ReadOnlySpan<int> sourceStrides,
        DevicePointer destination, long destinationElements, ReadOnlySpan<int> destinationStrides, ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(context);
        int count = Shapes.Numel(shape);
        if (count == 0)
            return;
        var (merged, strides) = StridedLayout.Coalesce(shape, sourceStrides.ToArray(), destinationStrides.ToArray());
        var from = StridedLayout.Create(merged, strides[0]);
        var to = StridedLayout.Create(merged, strides[1]);
        int blocks = Blocks(count);
        switch (elementSize)
        {
            case 1:
                context.Launcher.Launch(StridedCopy<byte>, blocks, BlockSize, Span<byte>(source, sourceElements), from, Span<byte>(destination, destinationElements), to, count);
                break;
            case 4:
                context.Launcher.Launch(StridedCopy<int>, blocks, BlockSize, Span<int>(source, sourceElements), from, Span<int>(destination, destinationElements), to, count);
                break;
            case 8:
                context.Launcher.Launch(StridedCopy<long>, blocks, BlockSize, Span<long>(source, sourceElements), from, Span<long>(destination, destinationElements), to, count);
                break;
            default:
                throw new ArgumentException($"GPU copy: elements of {elementSize} bytes are not supported (expected 1, 4 or 8)", nameof(elementSize));
        }
    }

    /// <summary>Sets <paramref name="count"/> elements at <paramref name="destination"/> to the raw bits <paramref name="bits"/> (low <paramref name="elementSize"/> bytes).</summary>
    public static void FillBits(GpuContext context, int elementSize, DevicePointer destination, int count, long bits)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (count == 0)
            return;
        int blocks = Blocks(count);
        switch (elementSize)
        {
            case 1: context.Launcher.Launch(Fill<byte>, blocks, BlockSize, Span<byte>(destination, count), (byte)bits); break;
            case 4: context.Launcher.Launch(Fill<int>, blocks, BlockSize, Span<int>(destination, count), (int)bits); break;
            case 8: context.Launcher.Launch(Fill<long>, blocks, BlockSize, Span<long>(destination, count), bits); break;
            default: throw new ArgumentException($"GPU fill: elements of {elementSize} bytes are not supported (expected 1, 4 or 8)", nameof(elementSize));
        }
    }

    private static DeviceSpan<T> Span<T>(DevicePointer pointer, long elements) where T : unmanaged =>
        DeviceSpan<T>.FromAddress(pointer.Address, checked((int)elements));
}
