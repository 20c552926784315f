using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>RoIAlign (torchvision.ops.roi_align).</summary>
public static partial class Functional
{
    /// <summary>
    /// torchvision.ops.roi_align: pools each box of <paramref name="boxes"/> [K, 5] (batch index,
    /// x1, y1, x2, y2 in input coordinates before <paramref name="spatialScale"/>) out of
    /// <paramref name="input"/> [N, C, H, W] into [K, C, outputSize.Height, outputSize.Width] by
    /// averaging bilinear samples. <paramref name="samplingRatio"/> &lt;= 0 samples
    /// ceil(roi size / output size) points per bin; <paramref name="aligned"/> shifts boxes by -0.5
    /// pixel (pixel-centre convention). The gradient flows to the input only.
    /// </summary>
    public static Tensor RoiAlign(Tensor input, Tensor boxes, (int Height, int Width) outputSize, float spatialScale = 1f,
        int samplingRatio = -1, bool aligned = false)
    {
        const string op = "roi_align";
        input.ExpectFloat(op, nameof(input));
        boxes.ExpectFloat(op, nameof(boxes));
        CheckSameDevice(op, input, boxes);
        if (input.Rank != 4)
            throw new TensorShapeException($"{op}: 'input' expected [batch, channels, height, width], found shape {Shapes.Format(input.Shape)}", nameof(input));
        if (boxes.Rank != 2 || boxes.ShapeArray[1] != 5)
            throw new TensorShapeException($"{op}: 'boxes' expected [K, 5] rows of (batch index, x1, y1, x2, y2), found shape {Shapes.Format(boxes.Shape)}; pass a list of [Ki, 4] tensors for per-image boxes", nameof(boxes));
        var (outputHeight, outputWidth) = outputSize;
        if (outputHeight <= 0 || outputWidth <= 0)
            throw new ArgumentOutOfRangeException(nameof(outputSize), outputSize, $"{op}: 'outputSize' expected positive (height, width), found ({outputHeight}, {outputWidth})");
        if (!(spatialScale > 0f) || float.IsInfinity(spatialScale))
            throw new ArgumentOutOfRangeException(nameof(spatialScale), spatialScale, $"{op}: 'spatialScale' expected a finite value > 0, found {spatialScale}");
        int batchCount = input.ShapeArray[0], channelCount = input.ShapeArray[1], height = input.ShapeArray[2], width = input.ShapeArray[3];
        var rois = boxes.Contiguous();
        ReadOnlySpan<float> values = boxes.Device.IsGpu ? rois.ToArray() : rois.AsSpan<float>();   // the batch indices are checked on the host
        int roiCount = boxes.ShapeArray[0];
        for (int n = 0; n < roiCount; n++)
        {
            float index = values[n * 5];
            if (!(index >= 0f && index < batchCount) || index != MathF.Floor(index))
                throw new ArgumentOutOfRangeException(nameof(boxes), index, $"{op}: 'boxes' row {n} expected an integer batch index in [0, {batchCount - 1}] for an input of shape {Shapes.Format(input.Shape)}, found {index}");
        }
        var x = input.Contiguous();
        var output = Tensor.Allocate([roiCount, channelCount, outputHeight, outputWidth], DType.Float32, input.Device, zero: false);
        if (input.Device.IsGpu)
        {
            var level = GpuRoiLevel(input, spatialScale);
            Kernels.Gpu.GpuVision.RoiAlignForward(input.Gpu.Launcher, x.DeviceView<float>(), level.Layout.DeviceView<int>(), level.Scales.DeviceView<float>(), default,
                rois.DeviceView<float>(), channelCount, outputHeight, outputWidth, samplingRatio, aligned, output.DeviceView<float>());
            return AutogradEngine.Record(output, op, [input], g =>
            {
                var gradOutput = g.Contiguous();
                var gradInput = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: true);
                Kernels.Gpu.GpuVision.RoiAlignBackward(input.Gpu.Launcher, gradOutput.DeviceView<float>(), level.Layout.DeviceView<int>(), level.Scales.DeviceView<float>(), default,
                    rois.DeviceView<float>(), channelCount, outputHeight, outputWidth, samplingRatio, aligned, gradInput.DeviceView<float>());
                return [gradInput];
            });
        }
        unsafe
        {
            Kernels.Cpu.RoiAlignChannelsLast.Forward(x.Pointer<float>(), rois.Pointer<float>(), batchCount, channelCount, height, width, roiCount,
                outputHeight, outputWidth, spatialScale, samplingRatio, aligned, output.Pointer<float>());
        }
        return AutogradEngine.Record(output, op, [input], g =>
        {
            var gradOutput = g.Contiguous();
            var gradInput = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
            unsafe
            {
                Kernels.Cpu.RoiAlignChannelsLast.Backward(gradOutput.Pointer<float>(), rois.Pointer<float>(), batchCount, channelCount, height, width, roiCount,
                    outputHeight, outputWidth, spatialScale, samplingRatio, aligned, gradInput.Pointer<float>());
            }
            return [gradInput];
        });
    }

    /// <summary>
    /// <see cref="RoiAlign(Tensor, Tensor, ValueTuple{int, int}, float, int, bool)"/> with one
    /// [Ki, 4] (x1, y1, x2, y2) tensor of boxes per image: boxes[i] belong to image i.
    /// </summary>
    public static Tensor RoiAlign(Tensor input, IReadOnlyList<Tensor> boxes, (int Height, int Width) outputSize, float spatialScale = 1f,
        int samplingRatio = -1, bool aligned = false)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        var rows = new List<float>();
        for (int i = 0; i < boxes.Count; i++)
        {
            boxes[i].ExpectFloat("roi_align", $"boxes[{i}]");
            if (boxes[i].Rank != 2 || boxes[i].ShapeArray[1] != 4)
                throw new TensorShapeException($"roi_align: 'boxes[{i}]' expected [Ki, 4] rows of (x1, y1, x2, y2), found shape {Shapes.Format(boxes[i].Shape)}", nameof(boxes));
            var values = boxes[i].ToArray();
            for (int r = 0; r < values.Length; r += 4)
                rows.AddRange([i, values[r], values[r + 1], values[r + 2], values[r + 3]]);
        }
        return RoiAlign(input, Tensor.FromData<float>(rows.ToArray(), [rows.Count / 5, 5]).To(input.Device), outputSize, spatialScale, samplingRatio, aligned);
    }

    /// <summary>The one-level layout table (offset 0, height, width) and scale of the GPU RoIAlign kernels, on the input's device.</summary>
    private static (Tensor Layout, Tensor Scales) GpuRoiLevel(Tensor input, float spatialScale) =>
        (Tensor.FromArray(new[] { 0, input.ShapeArray[2], input.ShapeArray[3] }, 3).To(input.Device),
         Tensor.FromArray(new[] { spatialScale }, 1).To(input.Device));
}
