using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// The float fill behind Fill, Full and OnesLike of GPU tensors. (Strided copies — Contiguous,
/// CopyFrom, Cat — are <c>ElementwiseKernels.Copy</c>; other dtypes fill through CopyFrom of a scalar.)
/// </summary>
public static class GpuMemoryKernels
{
    public const int BlockSize = 256;

    /// <summary>destination[i] = value for i &lt; destination.Length (grid-stride loop).</summary>
    [Kernel]
    public static void Fill(DeviceSpan<float> destination, float value)
    {
        for (int i = Grid.GlobalX; i < destination.Length; i += Grid.StrideX)
            destination[i] = value;
    }

    /// <summary>Sets <paramref name="count"/> floats at <paramref name="destination"/> to <paramref name="value"/>.</summary>
    public static void FillFloats(GpuContext context, DevicePointer destination, int count, float value)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (count == 0)
            return;
        // At most 4096 blocks: each thread loops over the rest.
        int blocks = (int)Math.Clamp((count + (long)BlockSize - 1) / BlockSize, 1, 4096);
        context.Launcher.Launch(Fill, blocks, BlockSize, DeviceSpan<float>.FromAddress(destination.Address, count), value);
    }
}
