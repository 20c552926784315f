using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>RoIAlign over a feature pyramid (the pooling step of torchvision's MultiScaleRoIAlign).</summary>
public static partial class Functional
{
    /// <summary>
    /// RoIAlign of each box of <paramref name="boxes"/> [K, 5] on the pyramid level
    /// <paramref name="levels"/>[k] (int32 or int64 [K], in [0, L)) of <paramref name="features"/>
    /// (L tensors [N, C, H_l, W_l]) with that level's <paramref name="spatialScales"/>[l]; the result
    /// is [K, C, outputSize.Height, outputSize.Width] in box order, the same as pooling each level's
    /// boxes with <see cref="RoiAlign(Tensor, Tensor, ValueTuple{int, int}, float, int, bool)"/> and
    /// putting the rows back. Gradients flow to every level. On a GPU one kernel launch per level
    /// writes its boxes' rows straight into the result (no gather, no packing copy).
    /// </summary>
    public static Tensor MultiScaleRoiAlign(IReadOnlyList<Tensor> features, Tensor boxes, Tensor levels, (int Height, int Width) outputSize,
        IReadOnlyList<float> spatialScales, int samplingRatio = -1, bool aligned = false)
    {
        const string op = "multi_scale_roi_align";
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(spatialScales);
        if (features.Count == 0 || spatialScales.Count != features.Count)
            throw new ArgumentException($"{op}: expected one spatial scale per feature level and at least one level, found {features.Count} levels and {spatialScales.Count} scales", nameof(spatialScales));
        for (int l = 0; l < features.Count; l++)
        {
            features[l].ExpectFloat(op, $"features[{l}]");
            CheckSameDevice(op, features[0], features[l]);
            if (features[l].Rank != 4 || features[l].Size(0) != features[0].Size(0) || features[l].Size(1) != features[0].Size(1))
                throw new TensorShapeException($"{op}: 'features[{l}]' expected [{features[0].Size(0)}, {features[0].Size(1)}, height, width] like features[0] {Shapes.Format(features[0].Shape)}, found {Shapes.Format(features[l].Shape)}", nameof(features));
        }
        CheckSameDevice(op, features[0], boxes, levels);
        boxes.ExpectFloat(op, nameof(boxes));
        ValidateRoiRows(op, boxes, features[0]);
        int roiCount = boxes.Size(0);
        if ((levels.DType != DType.Int32 && levels.DType != DType.Int64) || levels.Rank != 1 || levels.Size(0) != roiCount)
            throw new TensorShapeException($"{op}: 'levels' expected an int32 or int64 tensor [{roiCount}] (one level per box), found {levels.DType.Name()} of shape {Shapes.Format(levels.Shape)}", nameof(levels));
        var hostLevels = levels.To(Device.Cpu);
        int[] levelOf = levels.DType == DType.Int32 ? hostLevels.ToArray<int>() : hostLevels.ToArray<long>().Select(v => (int)Math.Clamp(v, -1, int.MaxValue)).ToArray();
        for (int k = 0; k < levelOf.Length; k++)
            if (levelOf[k] < 0 || levelOf[k] >= features.Count)
                throw new ArgumentOutOfRangeException(nameof(levels), levelOf[k], $"{op}: 'levels' row {k} expected a level in [0, {features.Count - 1}], found {levelOf[k]}");
        if (!features[0].Device.IsGpu)
            return MultiScaleOnHost(features, boxes, levelOf, outputSize, spatialScales, samplingRatio, aligned);

        if (outputSize.Height <= 0 || outputSize.Width <= 0)
            throw new ArgumentOutOfRangeException(nameof(outputSize), outputSize, $"{op}: 'outputSize' expected positive (height, width), found ({outputSize.Height}, {outputSize.Width})");
        foreach (float scale in spatialScales)
            if (!(scale > 0f) || float.IsInfinity(scale))
                throw new ArgumentOutOfRangeException(nameof(spatialScales), scale, $"{op}: 'spatialScales' expected finite values > 0, found {scale}");
        var device = features[0].Device;
        var dense = features.Select(f => f.Contiguous()).ToArray();
        var rois = boxes.Detach().Contiguous();
        var levelTensor = Tensor.FromArray(levelOf, levelOf.Length).To(device);
        int channelCount = features[0].Size(1);
        var output = Tensor.Allocate([roiCount, channelCount, outputSize.Height, outputSize.Width], DType.Float32, device, zero: false);
        var layouts = dense.Select((f, l) => GpuRoiLevel(f, spatialScales[l])).ToArray();
        for (int l = 0; l < dense.Length; l++)
            Kernels.Gpu.GpuVision.RoiAlignForward(dense[l].Gpu.Launcher, dense[l].DeviceView<float>(), layouts[l].Layout.DeviceView<int>(), layouts[l].Scales.DeviceView<float>(),
                levelTensor.DeviceView<int>(), rois.DeviceView<float>(), channelCount, outputSize.Height, outputSize.Width, samplingRatio, aligned, output.DeviceView<float>(), onlyLevel: l);
        return AutogradEngine.Record(output, op, [.. features], g =>
        {
            var gradOutput = g.Contiguous();
            var grads = new Tensor?[features.Count];
            for (int l = 0; l < features.Count; l++)
            {
                if (!features[l].RequiresGrad)
                    continue;
                var gradLevel = Tensor.Allocate(features[l].Shape, DType.Float32, device, zero: true);
                Kernels.Gpu.GpuVision.RoiAlignBackward(gradLevel.Gpu.Launcher, gradOutput.DeviceView<float>(), layouts[l].Layout.DeviceView<int>(), layouts[l].Scales.DeviceView<float>(),
                    levelTensor.DeviceView<int>(), rois.DeviceView<float>(), channelCount, outputSize.Height, outputSize.Width, samplingRatio, aligned, gradLevel.DeviceView<float>(), onlyLevel: l);
                grads[l] = gradLevel;
            }
            return grads;
        });
    }

    /// <summary>Checks the [K, 5] rows and their batch indices against the input's batch size (read on the host).</summary>
    private static void ValidateRoiRows(string op, Tensor rois, Tensor input)
    {
        if (rois.Rank != 2 || rois.Size(1) != 5)
            throw new TensorShapeException($"{op}: 'boxes' expected [K, 5] rows of (batch index, x1, y1, x2, y2), found shape {Shapes.Format(rois.Shape)}", "boxes");
        float[] values = rois.ToArray();
        int batchCount = input.Size(0);
        for (int n = 0; n < values.Length / 5; n++)
        {
            float index = values[n * 5];
            if (!(index >= 0f && index < batchCount) || index != MathF.Floor(index))
                throw new ArgumentOutOfRangeException("boxes", index, $"{op}: 'boxes' row {n} expected an integer batch index in [0, {batchCount - 1}] for an input of shape {Shapes.Format(input.Shape)}, found {index}");
        }
    }

    /// <summary>The CPU path: each level's boxes pooled by <see cref="RoiAlign(Tensor, Tensor, ValueTuple{int, int}, float, int, bool)"/>, rows put back in box order.</summary>
    private static Tensor MultiScaleOnHost(IReadOnlyList<Tensor> features, Tensor boxes, int[] levelOf, (int Height, int Width) outputSize,
        IReadOnlyList<float> spatialScales, int samplingRatio, bool aligned)
    {
        var rois = boxes.Detach().Contiguous();
        var pooled = new List<Tensor>();
        var order = new List<int>();
        for (int l = 0; l < features.Count; l++)
        {
            int[] members = Enumerable.Range(0, levelOf.Length).Where(k => levelOf[k] == l).ToArray();
            if (members.Length == 0 && !(l == 0 && levelOf.Length == 0))
                continue;
            var rows = IndexSelect(rois, 0, Tensor.FromArray(members.Select(m => (long)m).ToArray(), members.Length));
            pooled.Add(RoiAlign(features[l], rows, outputSize, spatialScales[l], samplingRatio, aligned));
            order.AddRange(members);
        }
        var stacked = pooled.Count == 1 ? pooled[0] : Cat(pooled, 0);
        var inverse = new long[order.Count];
        for (int i = 0; i < order.Count; i++)
            inverse[order[i]] = i;
        return IndexSelect(stacked, 0, Tensor.FromArray(inverse, inverse.Length));
    }
}
