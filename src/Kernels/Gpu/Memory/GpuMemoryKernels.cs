using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Fills of GPU memory and their host-side launcher: what Fill, Full and OnesLike of a GPU tensor
/// run. Element types are written as raw bits (byte, int, long), so one kernel serves every dtype.
/// (Strided copies — Contiguous, CopyFrom, Cat — are <c>ElementwiseKernels.Copy</c>.)
/// </summary>
public static class GpuMemoryKernels
{
    public const int BlockSize = 256;

    /// <summary>destination[i] = value for i &lt; destination.Length.</summary>
    [Kernel]
    public static void Fill<T>(DeviceSpan<T> destination, T value) where T : unmanaged
    {
        for (int i = Grid.GlobalX; i < destination.Length; i += Grid.StrideX)
            destination[i] = value;
    }

    /// <summary>Blocks for a grid-stride loop over <paramref name="count"/> elements (at most 4096 blocks: each thread loops).</summary>
    public static int Blocks(long count) => (int)Math.Clamp((count + BlockSize - 1) / BlockSize, 1, 4096);

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
