using System.Reflection;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Cpu;

namespace Tessera.Kernels.Gpu;

/// <summary>One thread per element, 256 per block: the launch shape of every pooling, resize and pad kernel.</summary>
internal static class ElementwiseLaunch
{
    public const int Threads = 256;

    public static void Run(KernelLauncher launcher, Type owner, string kernel, int count, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (count == 0)
            return;
        MethodInfo method = owner.GetMethod(kernel) ?? throw new ArgumentException($"{owner.Name} has no kernel '{kernel}'", nameof(kernel));
        launcher.Launch(method, (count + Threads - 1) / Threads, Threads, arguments);
    }
}

public static partial class GpuPool2d
{
    /// <summary>Max pooling values and int64 argmax indices. Overwrites both.</summary>
    public static void MaxPoolForward(KernelLauncher launcher, DeviceSpan<float> input, in Pool2dGeometry geometry, DeviceSpan<float> output, DeviceSpan<long> indices)
    {
        int count = geometry.PlaneCount * geometry.OutPlane;
        ElementwiseLaunch.Run(launcher, typeof(GpuPool2d), nameof(MaxForward), count, input, PoolShape.From(geometry), output.Slice(0, count), indices);
    }

    /// <summary>Max pooling gradient through the saved indices. Overwrites gradInput.</summary>
    public static void MaxPoolBackward(KernelLauncher launcher, DeviceSpan<float> gradOutput, DeviceSpan<long> indices, in Pool2dGeometry geometry, DeviceSpan<float> gradInput)
    {
        int count = geometry.PlaneCount * geometry.InPlane;
        ElementwiseLaunch.Run(launcher, typeof(GpuPool2d), nameof(MaxBackward), count, gradOutput, indices, PoolShape.From(geometry), gradInput.Slice(0, count));
    }

    /// <summary>Average pooling. Overwrites output.</summary>
    public static void AvgPoolForward(KernelLauncher launcher, DeviceSpan<float> input, in Pool2dGeometry geometry, bool countIncludePad, DeviceSpan<float> output)
    {
        int count = geometry.PlaneCount * geometry.OutPlane;
        ElementwiseLaunch.Run(launcher, typeof(GpuPool2d), nameof(AvgForward), count, input, PoolShape.From(geometry), countIncludePad ? 1 : 0, output.Slice(0, count));
    }

    /// <summary>Average pooling gradient. Overwrites gradInput.</summary>
    public static void AvgPoolBackward(KernelLauncher launcher, DeviceSpan<float> gradOutput, in Pool2dGeometry geometry, bool countIncludePad, DeviceSpan<float> gradInput)
    {
        int count = geometry.PlaneCount * geometry.InPlane;
        ElementwiseLaunch.Run(launcher, typeof(GpuPool2d), nameof(AvgBackward), count, gradOutput, PoolShape.From(geometry), countIncludePad ? 1 : 0, gradInput.Slice(0, count));
    }

    /// <summary>Planes at least this large are averaged to 1×1 by a block each (<see cref="GlobalAvgForward"/>).</summary>
    public const int GlobalBlockThreshold = 256;

    /// <summary>Adaptive average pooling; to 1×1 over large planes, a block per plane. Overwrites output.</summary>
    public static void AdaptiveForward(KernelLauncher launcher, DeviceSpan<float> input, int planeCount, int inHeight, int inWidth, int outHeight, int outWidth, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        int count = planeCount * outHeight * outWidth;
        if (count > 0 && outHeight == 1 && outWidth == 1 && inHeight * inWidth >= GlobalBlockThreshold)
        {
            launcher.Launch(typeof(GpuPool2d).GetMethod(nameof(GlobalAvgForward))!, planeCount, BlockSums.Threads, input, inHeight * inWidth, output.Slice(0, count));
            return;
        }
        ElementwiseLaunch.Run(launcher, typeof(GpuPool2d), nameof(AdaptiveAvgForward), count, input, inHeight, inWidth, outHeight, outWidth, output.Slice(0, count));
    }

    /// <summary>Adaptive average pooling gradient. Overwrites gradInput.</summary>
    public static void AdaptiveBackward(KernelLauncher launcher, DeviceSpan<float> gradOutput, int planeCount, int inHeight, int inWidth, int outHeight, int outWidth, DeviceSpan<float> gradInput)
    {
        int count = planeCount * inHeight * inWidth;
        ElementwiseLaunch.Run(launcher, typeof(GpuPool2d), nameof(AdaptiveAvgBackward), count, gradOutput, inHeight, inWidth, outHeight, outWidth, gradInput.Slice(0, count));
    }
}

/// <summary>
/// One axis of a bilinear resize on the device: the <see cref="LinearAxis"/> tables and their
/// <see cref="GpuUpsample2d.Runs"/> (for the backward gather).
/// </summary>
public readonly record struct DeviceLinearAxis(DeviceSpan<int> Index0, DeviceSpan<int> Index1, DeviceSpan<float> Lambda0, DeviceSpan<float> Lambda1, DeviceSpan<int> Runs);

public static partial class GpuUpsample2d
{
    /// <summary>Nearest resize through the source tables rows [outHeight] and columns [outWidth]. Overwrites output.</summary>
    public static void Nearest(KernelLauncher launcher, DeviceSpan<float> input, int planeCount, int inHeight, int inWidth,
        DeviceSpan<int> rows, DeviceSpan<int> columns, DeviceSpan<float> output)
    {
        int count = planeCount * rows.Length * columns.Length;
        ElementwiseLaunch.Run(launcher, typeof(GpuUpsample2d), nameof(NearestForward), count, input, rows, columns, inHeight, inWidth, output.Slice(0, count));
    }

    /// <summary>Nearest resize gradient through the runs of each input row and column. Overwrites gradInput.</summary>
    public static void NearestGradient(KernelLauncher launcher, DeviceSpan<float> gradOutput, int planeCount, int outHeight, int outWidth,
        DeviceSpan<int> rowRuns, DeviceSpan<int> columnRuns, DeviceSpan<float> gradInput)
    {
        int count = planeCount * (rowRuns.Length / 2) * (columnRuns.Length / 2);
        ElementwiseLaunch.Run(launcher, typeof(GpuUpsample2d), nameof(NearestBackward), count, gradOutput, rowRuns, columnRuns, outHeight, outWidth, gradInput.Slice(0, count));
    }

    /// <summary>Bilinear resize. Overwrites output.</summary>
    public static void Bilinear(KernelLauncher launcher, DeviceSpan<float> input, int planeCount, int inHeight, int inWidth,
        DeviceLinearAxis rows, DeviceLinearAxis columns, DeviceSpan<float> output)
    {
        int count = planeCount * rows.Index0.Length * columns.Index0.Length;
        ElementwiseLaunch.Run(launcher, typeof(GpuUpsample2d), nameof(BilinearForward), count, input,
            rows.Index0, rows.Index1, rows.Lambda0, rows.Lambda1, columns.Index0, columns.Index1, columns.Lambda0, columns.Lambda1,
            inHeight, inWidth, output.Slice(0, count));
    }

    /// <summary>Bilinear resize gradient. Overwrites gradInput.</summary>
    public static void BilinearGradient(KernelLauncher launcher, DeviceSpan<float> gradOutput, int planeCount,
        DeviceLinearAxis rows, DeviceLinearAxis columns, DeviceSpan<float> gradInput)
    {
        int count = planeCount * (rows.Runs.Length / 2) * (columns.Runs.Length / 2);
        ElementwiseLaunch.Run(launcher, typeof(GpuUpsample2d), nameof(BilinearBackward), count, gradOutput,
            rows.Index0, rows.Index1, rows.Lambda0, rows.Lambda1, columns.Index0, columns.Index1, columns.Lambda0, columns.Lambda1,
            rows.Runs, columns.Runs, gradInput.Slice(0, count));
    }
}

public static partial class GpuPad
{
    /// <summary>output[p, q] = input[p, sourceOffsets[q]] (value where the offset is −1). Overwrites output.</summary>
    public static void Run(KernelLauncher launcher, DeviceSpan<float> input, int planeCount, int inputPlane, DeviceSpan<int> sourceOffsets, float value, DeviceSpan<float> output)
    {
        int count = planeCount * sourceOffsets.Length;
        ElementwiseLaunch.Run(launcher, typeof(GpuPad), nameof(Forward), count, input, sourceOffsets, inputPlane, value, output.Slice(0, count));
    }

    /// <summary>The pad's gradient through the inverse table (<see cref="Inverse"/>). Overwrites gradInput.</summary>
    public static void Gradient(KernelLauncher launcher, DeviceSpan<float> gradOutput, int planeCount, int outputPlane, DeviceSpan<int> starts, DeviceSpan<int> readers, DeviceSpan<float> gradInput)
    {
        int count = planeCount * (starts.Length - 1);
        ElementwiseLaunch.Run(launcher, typeof(GpuPad), nameof(Backward), count, gradOutput, starts, readers, outputPlane, gradInput.Slice(0, count));
    }
}
