using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Kernels.Gpu;
using Xunit;
using Cpu = Tessera.Kernels.Cpu;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>RoIAlign (one and two levels) and the box kernels on the PTX emulator against the CPU kernels.</summary>
public class VisionKernelTests
{
    // (batch index, x1, y1, x2, y2): inside, across the borders, outside, tiny and inverted boxes.
    private static readonly float[] Rois =
    [
        0, 1.0f, 1.5f, 6.2f, 7.0f,
        1, 2.3f, 0.5f, 11.0f, 9.1f,
        0, -3.0f, -2.0f, 5.0f, 4.0f,
        1, 8.0f, 6.0f, 14.5f, 12.7f,
        0, 20.0f, 1.0f, 30.0f, 6.0f,
        1, 7.0f, 2.0f, 7.0f, 2.0f,
        0, 6.0f, 5.0f, 3.0f, 2.0f,
    ];

    [Theory]
    [InlineData(false, 0, 1f)]
    [InlineData(true, 0, 1f)]
    [InlineData(false, 2, 0.5f)]
    [InlineData(true, 2, 0.5f)]
    public unsafe void RoiAlignOneLevelMatchesTheCpuKernel(bool aligned, int samplingRatio, float spatialScale)
    {
        const int batch = 2, channels = 3, height = 10, width = 12, outputHeight = 3, outputWidth = 2;
        int roiCount = Rois.Length / 5;
        float[] input = GpuTestSupport.RandomFloats(batch * channels * height * width, 41);
        float[] gradOutput = GpuTestSupport.RandomFloats(roiCount * channels * outputHeight * outputWidth, 42);
        var expected = new float[gradOutput.Length];
        var expectedGrad = new float[input.Length];
        fixed (float* x = input, b = Rois, y = expected, g = gradOutput, gx = expectedGrad)
        {
            Cpu.RoiAlign.Forward(x, b, channels, height, width, roiCount, outputHeight, outputWidth, spatialScale, samplingRatio, aligned, y);
            Cpu.RoiAlign.Backward(g, b, batch, channels, height, width, roiCount, outputHeight, outputWidth, spatialScale, samplingRatio, aligned, gx);
        }
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 8 });
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, input);
        using var layout = DeviceBuffer<int>.From(driver, [0, height, width]);
        using var scales = DeviceBuffer<float>.From(driver, [spatialScale]);
        using var boxes = DeviceBuffer<float>.From(driver, Rois);
        using var output = DeviceBuffer<float>.Allocate(driver, expected.Length);
        using var dg = DeviceBuffer<float>.From(driver, gradOutput);
        using var gradInput = DeviceBuffer<float>.From(driver, new float[input.Length]);
        GpuVision.RoiAlignForward(launcher, dx.View, layout.View, scales.View, default, boxes.View, channels, outputHeight, outputWidth, samplingRatio, aligned, output.View);
        GpuVision.RoiAlignBackward(launcher, dg.View, layout.View, scales.View, default, boxes.View, channels, outputHeight, outputWidth, samplingRatio, aligned, gradInput.View);
        OpsAssert.Identical(expected, output.ToArray(), "roi_align forward");
        OpsAssert.Close(expectedGrad, gradInput.ToArray(), 1e-6f, 1e-5f, "roi_align backward (atomic scatter)");
    }

    [Fact]
    public unsafe void RoiAlignOverTwoLevelsMatchesOneCpuCallPerLevel()
    {
        const int batch = 2, channels = 2, outputSize = 2, samplingRatio = 2;
        int[] heights = [12, 6], widths = [16, 8];
        float[] levelScale = [0.25f, 0.125f];
        int[] levelOf = [0, 1, 1, 0, 1, 0, 0];
        int roiCount = Rois.Length / 5;
        var scaled = Rois.Select((v, i) => i % 5 == 0 ? v : v * 4f).ToArray();   // boxes in image pixels
        int size0 = batch * channels * heights[0] * widths[0], size1 = batch * channels * heights[1] * widths[1];
        float[] packed = GpuTestSupport.RandomFloats(size0 + size1, 43);
        float[] gradOutput = GpuTestSupport.RandomFloats(roiCount * channels * outputSize * outputSize, 44);
        var expected = new float[gradOutput.Length];
        var expectedGrad = new float[packed.Length];
        int bins = channels * outputSize * outputSize;
        fixed (float* x = packed, b = scaled, y = expected, g = gradOutput, gx = expectedGrad)
        {
            for (int n = 0; n < roiCount; n++)
            {
                int level = levelOf[n], offset = level == 0 ? 0 : size0;
                Cpu.RoiAlign.Forward(x + offset, b + n * 5, channels, heights[level], widths[level], 1, outputSize, outputSize, levelScale[level], samplingRatio, true, y + n * bins);
                var grad = new float[level == 0 ? size0 : size1];
                fixed (float* one = grad)
                    Cpu.RoiAlign.Backward(g + n * bins, b + n * 5, batch, channels, heights[level], widths[level], 1, outputSize, outputSize, levelScale[level], samplingRatio, true, one);
                for (int i = 0; i < grad.Length; i++)
                    gx[offset + i] += grad[i];
            }
        }
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 9 });
        using var launcher = new KernelLauncher(driver);
        using var dx = DeviceBuffer<float>.From(driver, packed);
        using var layout = DeviceBuffer<int>.From(driver, [0, heights[0], widths[0], size0, heights[1], widths[1]]);
        using var scales = DeviceBuffer<float>.From(driver, levelScale);
        using var levels = DeviceBuffer<int>.From(driver, levelOf);
        using var boxes = DeviceBuffer<float>.From(driver, scaled);
        using var output = DeviceBuffer<float>.Allocate(driver, expected.Length);
        using var dg = DeviceBuffer<float>.From(driver, gradOutput);
        using var gradInput = DeviceBuffer<float>.From(driver, new float[packed.Length]);
        GpuVision.RoiAlignForward(launcher, dx.View, layout.View, scales.View, levels.View, boxes.View, channels, outputSize, outputSize, samplingRatio, true, output.View);
        GpuVision.RoiAlignBackward(launcher, dg.View, layout.View, scales.View, levels.View, boxes.View, channels, outputSize, outputSize, samplingRatio, true, gradInput.View);
        OpsAssert.Identical(expected, output.ToArray(), "multi-level roi_align forward");
        OpsAssert.Close(expectedGrad, gradInput.ToArray(), 1e-6f, 1e-5f, "multi-level roi_align backward");
    }

    [Fact]
    public unsafe void BoxKernelsMatchTheCpuKernels()
    {
        const int countA = 5, countB = 6, classCount = 2;
        float[] a = Boxes(countA, 51), b = Boxes(countB, 52);
        a[4] = a[0]; a[5] = a[1]; a[6] = a[0]; a[7] = a[1];   // an empty box: 0/0 against another empty one
        float[] codes = GpuTestSupport.RandomFloats(countA * classCount * 4, 53, -0.5f, 0.5f);
        codes[2] = 30f;   // dw beyond the clip
        var (weights, clip) = ((10f, 10f, 5f, 5f), MathF.Log(1000f / 16f));
        var iou = new float[countA * countB];
        var targets = new float[countA * 4];
        var decoded = new float[codes.Length];
        var same = Boxes(countA, 54);
        fixed (float* pa = a, pb = b, pi = iou, ps = same, pt = targets, pc = codes, pd = decoded)
        {
            Cpu.Boxes.Iou(pa, pb, countA, countB, pi);
            Cpu.Boxes.Encode(ps, pb, countA, 10f, 10f, 5f, 5f, pt);
            Cpu.Boxes.Decode(pc, ps, countA, classCount, 10f, 10f, 5f, 5f, clip, pd);
        }
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<float>.From(driver, a);
        using var db = DeviceBuffer<float>.From(driver, b);
        using var ds = DeviceBuffer<float>.From(driver, same);
        using var dc = DeviceBuffer<float>.From(driver, codes);
        using var di = DeviceBuffer<float>.Allocate(driver, iou.Length);
        using var dt = DeviceBuffer<float>.Allocate(driver, targets.Length);
        using var dd = DeviceBuffer<float>.Allocate(driver, decoded.Length);
        GpuVision.BoxIou(launcher, da.View, db.View, countB, di.View);
        GpuVision.BoxEncode(launcher, ds.View, db.View.Slice(0, countA * 4), weights, dt.View);
        GpuVision.BoxDecode(launcher, dc.View, ds.View, classCount, weights, clip, dd.View);
        OpsAssert.Identical(iou, di.ToArray(), "box_iou");
        OpsAssert.Close(targets, dt.ToArray(), 1e-6f, 2e-6f, "box_encode");
        OpsAssert.Close(decoded, dd.ToArray(), 1e-5f, 2e-6f, "box_decode");
    }

    private static float[] Boxes(int count, int seed)
    {
        float[] r = GpuTestSupport.RandomFloats(count * 4, seed, 0f, 1f);
        var boxes = new float[count * 4];
        for (int i = 0; i < count; i++)
        {
            boxes[4 * i] = r[4 * i] * 10f;
            boxes[4 * i + 1] = r[4 * i + 1] * 10f;
            boxes[4 * i + 2] = boxes[4 * i] + r[4 * i + 2] * 5f + 0.5f;
            boxes[4 * i + 3] = boxes[4 * i + 1] + r[4 * i + 3] * 5f + 0.5f;
        }
        return boxes;
    }
}
