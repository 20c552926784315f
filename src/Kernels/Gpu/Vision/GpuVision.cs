using System.Reflection;
using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>Host side of the vision kernels (<see cref="RoiAlign"/>, <see cref="Boxes"/>): grid sizes and launches.</summary>
public static class GpuVision
{
    private const int Threads = 256;
    private static readonly MethodInfo s_roiForward = typeof(RoiAlign).GetMethod(nameof(RoiAlign.Forward))!;
    private static readonly MethodInfo s_roiBackward = typeof(RoiAlign).GetMethod(nameof(RoiAlign.Backward))!;
    private static readonly MethodInfo s_iou = typeof(Boxes).GetMethod(nameof(Boxes.Iou))!;
    private static readonly MethodInfo s_encode = typeof(Boxes).GetMethod(nameof(Boxes.Encode))!;
    private static readonly MethodInfo s_decode = typeof(Boxes).GetMethod(nameof(Boxes.Decode))!;

    private static void Run(KernelLauncher launcher, MethodInfo kernel, long threads, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (threads > 0)
            launcher.Launch(KernelCompiler.Compile(kernel, launcher.Target), (int)((threads + Threads - 1) / Threads), Threads, 0, arguments);
    }

    /// <summary>
    /// RoIAlign forward over packed levels (levelLayout [levels, 3] = offset, height, width;
    /// levelScales [levels]; roiLevels [roiCount], or empty for one level). With onlyLevel &gt;= 0
    /// the input is that level alone (one-entry layout and scale) and only its RoIs' rows are
    /// written. Box batch indices must be validated. Overwrites output [roiCount, channels,
    /// outputHeight, outputWidth] (the rows of onlyLevel's RoIs).
    /// </summary>
    public static void RoiAlignForward(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<int> levelLayout, DeviceSpan<float> levelScales,
        DeviceSpan<int> roiLevels, DeviceSpan<float> boxes, int channelCount, int outputHeight, int outputWidth, int samplingRatio, bool aligned,
        DeviceSpan<float> output, int onlyLevel = -1) =>
        Run(launcher, s_roiForward, output.Length, input, levelLayout, levelScales, roiLevels, boxes, channelCount, outputHeight, outputWidth,
            samplingRatio, aligned ? 1 : 0, onlyLevel, output);

    /// <summary>RoIAlign backward: atomically adds the scatter of gradOutput into gradInput (packed like the input, or onlyLevel's level alone; zero it first).</summary>
    public static void RoiAlignBackward(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<int> levelLayout, DeviceSpan<float> levelScales,
        DeviceSpan<int> roiLevels, DeviceSpan<float> boxes, int channelCount, int outputHeight, int outputWidth, int samplingRatio, bool aligned,
        DeviceSpan<float> gradInput, int onlyLevel = -1) =>
        Run(launcher, s_roiBackward, gradOutput.Length, gradOutput, levelLayout, levelScales, roiLevels, boxes, channelCount, outputHeight, outputWidth,
            samplingRatio, aligned ? 1 : 0, onlyLevel, gradInput);

    /// <summary>iou [countA, countB] of a [countA, 4] and b [countB, 4]. Overwrites iou.</summary>
    public static void BoxIou(KernelLauncher launcher, DeviceSpan<float> a, DeviceSpan<float> b, int countB, DeviceSpan<float> iou) =>
        Run(launcher, s_iou, iou.Length, a, b, countB, iou);

    /// <summary>BoxCoder.encode_single. Overwrites targets [count, 4].</summary>
    public static void BoxEncode(KernelLauncher launcher, DeviceSpan<float> reference, DeviceSpan<float> proposals,
        (float X, float Y, float W, float H) weights, DeviceSpan<float> targets) =>
        Run(launcher, s_encode, targets.Length / 4, reference, proposals, weights.X, weights.Y, weights.W, weights.H, targets);

    /// <summary>BoxCoder.decode_single. Overwrites decoded [count, classCount·4].</summary>
    public static void BoxDecode(KernelLauncher launcher, DeviceSpan<float> codes, DeviceSpan<float> boxes, int classCount,
        (float X, float Y, float W, float H) weights, float clip, DeviceSpan<float> decoded) =>
        Run(launcher, s_decode, decoded.Length / 4, codes, boxes, classCount, weights.X, weights.Y, weights.W, weights.H, clip, decoded);
}
