using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu.Samples;

/// <summary>Sums with a shared-memory tree per block; each block writes one partial sum.</summary>
public static class BlockReduce
{
    /// <summary>Threads per block that <see cref="Sum"/> is written for.</summary>
    public const int BlockSize = 256;

    /// <summary>Static shared memory; launch with <see cref="BlockSize"/> threads per block.</summary>
    [Kernel]
    public static void Sum(
        // [count]
        DeviceSpan<float> input,
        // [gridSize]
        DeviceSpan<float> partialSums)
    {
        DeviceSpan<float> cache = Shared.Allocate<float>(BlockSize);
        int thread = Grid.ThreadX;
        float sum = 0f;
        for (int i = Grid.GlobalX; i < input.Length; i += Grid.StrideX)
            sum += input[i];
        cache[thread] = sum;
        Block.Barrier();
        for (int stride = BlockSize / 2; stride > 0; stride >>= 1)
        {
            if (thread < stride)
                cache[thread] += cache[thread + stride];
            Block.Barrier();
        }
        if (thread == 0)
            partialSums[Grid.BlockX] = cache[0];
    }

    /// <summary>Dynamic shared memory: any power-of-two block size, with blockDim floats of shared memory at launch.</summary>
    [Kernel]
    public static void SumDynamic(
        // [count]
        DeviceSpan<float> input,
        // [gridSize]
        DeviceSpan<float> partialSums)
    {
        DeviceSpan<float> cache = Shared.Dynamic<float>();
        int thread = Grid.ThreadX;
        float sum = 0f;
        for (int i = Grid.GlobalX; i < input.Length; i += Grid.StrideX)
            sum += input[i];
        cache[thread] = sum;
        Block.Barrier();
        for (int stride = Grid.BlockDimX / 2; stride > 0; stride >>= 1)
        {
            if (thread < stride)
                cache[thread] += cache[thread + stride];
            Block.Barrier();
        }
        if (thread == 0)
            partialSums[Grid.BlockX] = cache[0];
    }
}
