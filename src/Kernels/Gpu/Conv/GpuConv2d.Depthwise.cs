using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

public static partial class GpuConv2d
{
    /// <summary>Threads per block of the reduction kernels (<see cref="DepthwiseBackwardWeight"/>, <see cref="ChannelSum"/>).</summary>
    public const int ReduceThreads = BlockSums.Threads;

    /// <summary>
    /// Depthwise convolution computed directly (ConvDepthwiseDirect; groups = inChannels = outChannels):
    /// one thread per output element, kH·kW multiply-adds from one channel plane. Overwrites output.
    /// Launch ceil(count / 256) blocks of 256 threads.
    /// </summary>
    [Kernel]
    public static void DepthwiseForward(
        // [batch, channels, inHeight, inWidth]
        DeviceSpan<float> input,
        // [channels, 1, kernelHeight, kernelWidth]
        DeviceSpan<float> weight,
        // [channels], read when hasBias != 0
        DeviceSpan<float> bias,
        ConvShape s, int hasBias,
        // [batch, channels, outHeight, outWidth]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int o))
            return;
        int outPlane = s.OutHeight * s.OutWidth, plane = o / outPlane, at = o - plane * outPlane;
        int channel = plane % s.InChannels, oh = at / s.OutWidth, ow = at - oh * s.OutWidth;
        int source = plane * s.InHeight * s.InWidth, filter = channel * s.KernelHeight * s.KernelWidth;
        float sum = hasBias != 0 ? bias[channel] : 0f;
        for (int kh = 0; kh < s.KernelHeight; kh++)
        {
            int ih = oh * s.StrideHeight - s.PaddingHeight + kh * s.DilationHeight;
            if (ih < 0 || ih >= s.InHeight)
                continue;
            for (int kw = 0; kw < s.KernelWidth; kw++)
            {
                int iw = ow * s.StrideWidth - s.PaddingWidth + kw * s.DilationWidth;
                if (iw >= 0 && iw < s.InWidth)
                    sum = MathF.FusedMultiplyAdd(weight[filter + kh * s.KernelWidth + kw], input[source + ih * s.InWidth + iw], sum);
            }
        }
        output[o] = sum;
    }

    /// <summary>
    /// Depthwise gradInput: one thread per input element gathers the taps whose window covers it
    /// (no atomics). Overwrites gradInput. Launch ceil(count / 256) blocks of 256 threads.
    /// </summary>
    [Kernel]
    public static void DepthwiseBackwardInput(
        // [batch, channels, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        // [channels, 1, kernelHeight, kernelWidth]
        DeviceSpan<float> weight,
        ConvShape s,
        // [batch, channels, inHeight, inWidth]
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradInput.Length, out int index))
            return;
        int inPlane = s.InHeight * s.InWidth, plane = index / inPlane, at = index - plane * inPlane;
        int channel = plane % s.InChannels, ih = at / s.InWidth, iw = at - ih * s.InWidth;
        int source = plane * s.OutHeight * s.OutWidth, filter = channel * s.KernelHeight * s.KernelWidth;
        float sum = 0f;
        for (int kh = 0; kh < s.KernelHeight; kh++)
        {
            int th = ih + s.PaddingHeight - kh * s.DilationHeight;
            int oh = th / s.StrideHeight;
            if (th < 0 || oh * s.StrideHeight != th || oh >= s.OutHeight)
                continue;
            for (int kw = 0; kw < s.KernelWidth; kw++)
            {
                int tw = iw + s.PaddingWidth - kw * s.DilationWidth;
                int ow = tw / s.StrideWidth;
                if (tw >= 0 && ow * s.StrideWidth == tw && ow < s.OutWidth)
                    sum = MathF.FusedMultiplyAdd(weight[filter + kh * s.KernelWidth + kw], gradOutput[source + oh * s.OutWidth + ow], sum);
            }
        }
        gradInput[index] = sum;
    }

    /// <summary>
    /// Depthwise gradWeight: block (channel · kH·kW + tap) sums gradOutput · input over every image
    /// and output pixel, then reduces in the block. Overwrites gradWeight. Launch channels · kH·kW
    /// blocks of <see cref="ReduceThreads"/> threads.
    /// </summary>
    [Kernel]
    public static void DepthwiseBackwardWeight(
        // [batch, channels, inHeight, inWidth]
        DeviceSpan<float> input,
        // [batch, channels, outHeight, outWidth]
        DeviceSpan<float> gradOutput,
        ConvShape s,
        // [channels, 1, kernelHeight, kernelWidth]
        DeviceSpan<float> gradWeight)
    {
        DeviceSpan<float> partial = Shared.Allocate<float>(BlockSums.Warps);
        int taps = s.KernelHeight * s.KernelWidth;
        int channel = Grid.BlockX / taps, tap = Grid.BlockX - channel * taps;
        int kh = tap / s.KernelWidth, kw = tap - kh * s.KernelWidth;
        int outPlane = s.OutHeight * s.OutWidth, inPlane = s.InHeight * s.InWidth;
        float sum = 0f;
        for (int k = Grid.ThreadX; k < s.BatchSize * outPlane; k += ReduceThreads)
        {
            int image = k / outPlane, at = k - image * outPlane;
            int oh = at / s.OutWidth, ow = at - oh * s.OutWidth;
            int ih = oh * s.StrideHeight - s.PaddingHeight + kh * s.DilationHeight;
            int iw = ow * s.StrideWidth - s.PaddingWidth + kw * s.DilationWidth;
            int plane = image * s.InChannels + channel;
            if (ih >= 0 && ih < s.InHeight && iw >= 0 && iw < s.InWidth)
                sum = MathF.FusedMultiplyAdd(gradOutput[plane * outPlane + at], input[plane * inPlane + ih * s.InWidth + iw], sum);
        }
        float total = BlockSums.Sum(sum, partial);
        if (Grid.ThreadX == 0)
            gradWeight[Grid.BlockX] = total;
    }

    /// <summary>
    /// gradBias[c] = Σ gradOutput[:, c, :, :] (block c reduces its channel over every image). Overwrites
    /// gradBias. Launch channelCount blocks of <see cref="ReduceThreads"/> threads.
    /// </summary>
    [Kernel]
    public static void ChannelSum(
        // [batch, channels, plane]
        DeviceSpan<float> gradOutput,
        int batchSize, int channelCount, int planeSize,
        // [channels]
        DeviceSpan<float> gradBias)
    {
        DeviceSpan<float> partial = Shared.Allocate<float>(BlockSums.Warps);
        int channel = Grid.BlockX;
        float sum = 0f;
        for (int k = Grid.ThreadX; k < batchSize * planeSize; k += ReduceThreads)
        {
            int image = k / planeSize;
            sum += gradOutput[(image * channelCount + channel) * planeSize + k - image * planeSize];
        }
        float total = BlockSums.Sum(sum, partial);
        if (Grid.ThreadX == 0)
            gradBias[channel] = total;
    }

    /// <summary>output[:, c, :] += bias[c] (the transposed convolution's bias). Accumulates into output; one thread per element.</summary>
    [Kernel]
    public static void AddChannelBias(
        // [channels]
        DeviceSpan<float> bias,
        int channelCount, int planeSize,
        // [batch, channels, plane]
        DeviceSpan<float> output)
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] += bias[i / planeSize % channelCount];
    }
}
