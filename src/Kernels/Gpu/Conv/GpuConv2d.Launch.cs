using System.Reflection;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Cpu;

namespace Tessera.Kernels.Gpu;

/// <summary>Host side of the GPU convolution: grid sizes, the depthwise shortcut and the split-k plan.</summary>
public static partial class GpuConv2d
{
    private const int ElementwiseThreads = 256;
    private const int MaxGridYZ = 65535;

    /// <summary>Blocks the weight gradient aims for before it splits k: two waves of a 132-SM H100.</summary>
    private const int TargetBlocks = 264;

    /// <summary>The smallest k slice worth a block of its own (16 shared steps).</summary>
    private const int MinimumSplitDepth = 16 * Depth;

    private static MethodInfo Method(string name) => typeof(GpuConv2d).GetMethod(name)!;

    /// <summary>output = conv(input, weight) + bias (bias may be null). Overwrites output.</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<float> weight, DeviceSpan<float>? bias,
        in Conv2dGeometry geometry, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        ConvShape s = ConvShape.From(geometry);
        int hasBias = bias is null ? 0 : 1;
        DeviceSpan<float> biasView = bias ?? weight;   // not read without a bias
        if (DepthwiseConv2d.Applies(geometry))
        {
            int count = geometry.BatchSize * geometry.OutChannels * geometry.OutPlane;
            launcher.Launch(Method(nameof(DepthwiseForward)), Blocks(count), ElementwiseThreads, input, weight, biasView, s, hasBias, output.Slice(0, count));
            return;
        }
        var grid = TiledGrid(geometry.BatchSize * geometry.OutPlane, geometry.OutChannelsPerGroup, geometry.Groups);
        launcher.Launch(Method(nameof(ForwardImplicitGemm)), grid, new Dim3(Side, Side), input, weight, biasView, s, hasBias, output);
    }

    /// <summary>gradInput = convᵀ(gradOutput, weight) (the transposed convolution's forward). Overwrites gradInput.</summary>
    public static void BackwardInput(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<float> weight,
        in Conv2dGeometry geometry, DeviceSpan<float> gradInput)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        ConvShape s = ConvShape.From(geometry);
        if (DepthwiseConv2d.Applies(geometry))
        {
            int count = geometry.BatchSize * geometry.InChannels * geometry.InPlane;
            launcher.Launch(Method(nameof(DepthwiseBackwardInput)), Blocks(count), ElementwiseThreads, gradOutput, weight, s, gradInput.Slice(0, count));
            return;
        }
        var grid = TiledGrid(geometry.BatchSize * geometry.InPlane, geometry.InChannelsPerGroup, geometry.Groups);
        launcher.Launch(Method(nameof(BackwardInputImplicitGemm)), grid, new Dim3(Side, Side), gradOutput, weight, s, gradInput);
    }

    /// <summary>How the weight gradient splits its k = batch · outPlane sum: slice count and depth (a multiple of 16).</summary>
    public static (int Count, int Depth) WeightSplit(in Conv2dGeometry geometry)
    {
        int depth = geometry.BatchSize * geometry.OutPlane;
        if (DepthwiseConv2d.Applies(geometry) || depth == 0)
            return (1, Math.Max(depth, 1));
        long blocks = (long)Ceiling(geometry.PatchSize, Columns) * Ceiling(geometry.OutChannelsPerGroup, Rows) * geometry.Groups;
        int wanted = (int)Math.Clamp((TargetBlocks + blocks - 1) / blocks, 1, Math.Max(1, depth / MinimumSplitDepth));
        wanted = Math.Min(wanted, MaxGridYZ / geometry.Groups);
        int sliceDepth = Ceiling(Ceiling(depth, wanted), Depth) * Depth;
        return (Ceiling(depth, sliceDepth), sliceDepth);
    }

    /// <summary>Floats of scratch <see cref="BackwardWeight"/> needs for its split-k slices (0 when it does not split).</summary>
    public static int WeightScratchLength(in Conv2dGeometry geometry)
    {
        var (count, _) = WeightSplit(geometry);
        return count == 1 ? 0 : count * geometry.OutChannels * geometry.PatchSize;
    }

    /// <summary>
    /// gradWeight = Σ gradOutput · im2col(input)ᵀ. Overwrites gradWeight. <paramref name="scratch"/> holds
    /// <see cref="WeightScratchLength"/> floats (ignored when that is 0).
    /// </summary>
    public static void BackwardWeight(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<float> gradOutput,
        in Conv2dGeometry geometry, DeviceSpan<float> scratch, DeviceSpan<float> gradWeight)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        ConvShape s = ConvShape.From(geometry);
        int weightCount = geometry.OutChannels * geometry.PatchSize;
        if (DepthwiseConv2d.Applies(geometry))
        {
            launcher.Launch(Method(nameof(DepthwiseBackwardWeight)), weightCount, ReduceThreads, input, gradOutput, s, gradWeight.Slice(0, weightCount));
            return;
        }
        var (count, depth) = WeightSplit(geometry);
        int scratchLength = WeightScratchLength(geometry);
        if (scratch.Length < scratchLength)
            throw new ArgumentException($"conv2d weight gradient: scratch expected at least {scratchLength} floats ({count} split-k slices of [{geometry.OutChannels}, {geometry.PatchSize}]), found {scratch.Length}; size it with WeightScratchLength", nameof(scratch));
        var grid = TiledGrid(geometry.PatchSize, geometry.OutChannelsPerGroup, geometry.Groups * count);
        DeviceSpan<float> target = count == 1 ? gradWeight : scratch;
        launcher.Launch(Method(nameof(BackwardWeightImplicitGemm)), grid, new Dim3(Side, Side), input, gradOutput, s, count, depth, target);
        if (count > 1)
            launcher.Launch(Method(nameof(SumSlices)), Blocks(weightCount), ElementwiseThreads, scratch, count, gradWeight.Slice(0, weightCount));
    }

    /// <summary>gradBias[c] = Σ over images and the plane of gradOutput[:, c]. Overwrites gradBias.</summary>
    public static void BackwardBias(KernelLauncher launcher, DeviceSpan<float> gradOutput, int batchSize, int channelCount, int planeSize, DeviceSpan<float> gradBias)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        launcher.Launch(Method(nameof(ChannelSum)), channelCount, ReduceThreads, gradOutput, batchSize, channelCount, planeSize, gradBias);
    }

    /// <summary>output[:, c, :] += bias[c] over [batch, channels, plane]. Accumulates into output.</summary>
    public static void AddBias(KernelLauncher launcher, DeviceSpan<float> bias, int batchSize, int channelCount, int planeSize, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int count = batchSize * channelCount * planeSize;
        if (count > 0)
            launcher.Launch(Method(nameof(AddChannelBias)), Blocks(count), ElementwiseThreads, bias, channelCount, planeSize, output.Slice(0, count));
    }

    private static Dim3 TiledGrid(int columns, int rows, int z)
    {
        int blocksY = Ceiling(rows, Rows);
        if (blocksY > MaxGridYZ || z > MaxGridYZ)
            throw new ArgumentOutOfRangeException(nameof(z), $"conv2d on the GPU: {blocksY} channel tiles x {z} groups/slices exceed the grid limit {MaxGridYZ} per axis; use fewer groups or channels per call");
        return new Dim3(Ceiling(columns, Columns), blocksY, z);
    }

    private static int Blocks(int count) => Math.Max(1, Ceiling(count, ElementwiseThreads));

    private static int Ceiling(int value, int divisor) => (value + divisor - 1) / divisor;
}
