using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>Host-side launches of <see cref="IndexingKernels"/>; one thread per index-shaped element.</summary>
public static class GpuIndexing
{
    /// <summary>output[o, j, :] = input[o, index[j], :]. Overwrites output.</summary>
    public static void SelectForward<T>(KernelLauncher launcher, DeviceSpan<T> input, DeviceSpan<long> index, SliceSelection shape, DeviceSpan<T> output)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length > 0)
            launcher.Launch(IndexingKernels.SelectForward<T>, GpuElementwise.Blocks(output.Length), ElementwiseKernels.BlockSize, input, index, shape, output);
    }

    /// <summary>gradInput[o, index[j], :] += gradOutput[o, j, :] except where index[j] == skipIndex. Accumulates.</summary>
    public static void SelectBackward(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<long> index, SliceSelection shape, long skipIndex, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (gradOutput.Length > 0)
            launcher.Launch(IndexingKernels.SelectBackward, GpuElementwise.Blocks(gradOutput.Length), ElementwiseKernels.BlockSize, gradOutput, index, shape, skipIndex, gradInput);
    }

    /// <summary>output[i] = input[A(i) + index[i] · dimStride] (operand A: input strides, gathered dim 0). Overwrites output.</summary>
    public static void Gather(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<long> index, StridedIndex layout, int dimStride, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length > 0)
            launcher.Launch(IndexingKernels.Gather, GpuElementwise.Blocks(output.Length), ElementwiseKernels.BlockSize, input, index, layout, dimStride, output);
    }

    /// <summary>output[C(i) + index[i] · dimStride] += source[A(i)] (operand C: output strides, scattered dim 0). Accumulates.</summary>
    public static void ScatterAdd(KernelLauncher launcher, DeviceSpan<float> source, DeviceSpan<long> index, StridedIndex layout, int dimStride, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (index.Length > 0)
            launcher.Launch(IndexingKernels.ScatterAdd, GpuElementwise.Blocks(index.Length), ElementwiseKernels.BlockSize, source, index, layout, dimStride, output);
    }


    /// <summary>
    /// Atomic-min of every flat position whose index lies outside [0, size) into firstBad[0]; the
    /// caller sets it to int.MaxValue first and reads it back (it stays int.MaxValue when all are in range).
    /// </summary>
    public static void FindOutOfRange(KernelLauncher launcher, DeviceSpan<long> index, long size, DeviceSpan<int> firstBad)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (index.Length > 0)
            launcher.Launch(IndexingKernels.FindOutOfRange, GpuElementwise.Blocks(index.Length), ElementwiseKernels.BlockSize, index, size, firstBad);
    }
}
