using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>Box utilities of torchvision on [x1, y1, x2, y2] boxes (no gradients).</summary>
public static partial class Functional
{
    /// <summary>torchvision's default clamp of dw and dh before exp in <see cref="BoxDecode"/>: log(1000 / 16).</summary>
    public static readonly float BboxXformClip = MathF.Log(1000f / 16f);

    /// <summary>torchvision.ops.box_iou: [N, M] intersection over union of boxes1 [N, 4] and boxes2 [M, 4].</summary>
    public static Tensor BoxIou(Tensor boxes1, Tensor boxes2)
    {
        var a = ExpectBoxes("box_iou", boxes1, nameof(boxes1));
        var b = ExpectBoxes("box_iou", boxes2, nameof(boxes2));
        CheckSameDevice("box_iou", boxes1, boxes2);
        var iou = Tensor.Allocate([a.Size(0), b.Size(0)], DType.Float32, a.Device, zero: false);
        if (a.Device.IsGpu)
            Kernels.Gpu.GpuVision.BoxIou(a.Gpu.Launcher, a.DeviceView<float>(), b.DeviceView<float>(), b.Size(0), iou.DeviceView<float>());
        else
            unsafe { Kernels.Cpu.Boxes.Iou(a.Pointer<float>(), b.Pointer<float>(), a.Size(0), b.Size(0), iou.Pointer<float>()); }
        return iou;
    }

    /// <summary>
    /// BoxCoder.encode_single: targets [K, 4] = (wx·Δx/w, wy·Δy/h, ww·log(w'/w), wh·log(h'/h)) that
    /// move each proposal [K, 4] onto its reference box [K, 4].
    /// </summary>
    public static Tensor BoxEncode(Tensor referenceBoxes, Tensor proposals, (float X, float Y, float W, float H) weights)
    {
        var reference = ExpectBoxes("box_encode", referenceBoxes, nameof(referenceBoxes));
        var props = ExpectBoxes("box_encode", proposals, nameof(proposals));
        CheckSameDevice("box_encode", referenceBoxes, proposals);
        if (reference.Size(0) != props.Size(0))
            throw new TensorShapeException($"box_encode: 'proposals' expected one box per reference box ({reference.Size(0)}), found shape {Shapes.Format(proposals.Shape)}", nameof(proposals));
        var targets = Tensor.Allocate(reference.Shape, DType.Float32, reference.Device, zero: false);
        if (reference.Device.IsGpu)
            Kernels.Gpu.GpuVision.BoxEncode(reference.Gpu.Launcher, reference.DeviceView<float>(), props.DeviceView<float>(), weights, targets.DeviceView<float>());
        else unsafe
        {
            Kernels.Cpu.Boxes.Encode(reference.Pointer<float>(), props.Pointer<float>(), reference.Size(0),
                weights.X, weights.Y, weights.W, weights.H, targets.Pointer<float>());
        }
        return targets;
    }

    /// <summary>
    /// BoxCoder.decode_single: applies relCodes [K, 4·C] (dx, dy, dw, dh per class) to boxes [K, 4];
    /// dw and dh are divided by their weights and clamped to at most <paramref name="clip"/>
    /// (default <see cref="BboxXformClip"/>). Returns [K, 4·C].
    /// </summary>
    public static Tensor BoxDecode(Tensor relCodes, Tensor boxes, (float X, float Y, float W, float H) weights, float? clip = null)
    {
        relCodes.ExpectFloat("box_decode", nameof(relCodes));
        var reference = ExpectBoxes("box_decode", boxes, nameof(boxes));
        CheckSameDevice("box_decode", relCodes, boxes);
        if (relCodes.Rank != 2 || relCodes.Size(0) != reference.Size(0) || relCodes.Size(1) % 4 != 0)
            throw new TensorShapeException($"box_decode: 'relCodes' expected [{reference.Size(0)}, 4 * classes] (one row per box), found shape {Shapes.Format(relCodes.Shape)}", nameof(relCodes));
        var codes = relCodes.Contiguous();
        var decoded = Tensor.Allocate(codes.Shape, DType.Float32, codes.Device, zero: false);
        if (codes.Device.IsGpu)
            Kernels.Gpu.GpuVision.BoxDecode(codes.Gpu.Launcher, codes.DeviceView<float>(), reference.DeviceView<float>(), codes.Size(1) / 4, weights, clip ?? BboxXformClip, decoded.DeviceView<float>());
        else unsafe
        {
            Kernels.Cpu.Boxes.Decode(codes.Pointer<float>(), reference.Pointer<float>(), reference.Size(0), codes.Size(1) / 4,
                weights.X, weights.Y, weights.W, weights.H, clip ?? BboxXformClip, decoded.Pointer<float>());
        }
        return decoded;
    }

    /// <summary>
    /// torchvision.ops.nms: int64 indices of the boxes [N, 4] kept by greedy non-maximum suppression,
    /// sorted by decreasing score; a box is dropped when its IoU with a kept box is above <paramref name="iouThreshold"/>.
    /// The greedy loop is sequential, so for boxes on a GPU it runs on the host: boxes and scores
    /// are copied back, and the indices are returned on the boxes' device.
    /// </summary>
    public static Tensor Nms(Tensor boxes, Tensor scores, float iouThreshold)
    {
        var b = ExpectBoxes("nms", boxes, nameof(boxes));
        var s = ExpectScores("nms", scores, b.Size(0));
        CheckSameDevice("nms", boxes, scores);
        return RunNms(b, s, iouThreshold);
    }

    /// <summary>
    /// torchvision.ops.batched_nms: NMS within each category of <paramref name="idxs"/> [N] (int64 or
    /// int32) independently, by offsetting every category's boxes beyond the others (the coordinate trick).
    /// Like <see cref="Nms"/>, computed on the host for GPU inputs (copied back; indices returned on the boxes' device).
    /// </summary>
    public static Tensor BatchedNms(Tensor boxes, Tensor scores, Tensor idxs, float iouThreshold)
    {
        var b = ExpectBoxes("batched_nms", boxes, nameof(boxes));
        var s = ExpectScores("batched_nms", scores, b.Size(0));
        CheckSameDevice("batched_nms", boxes, scores, idxs);
        if ((idxs.DType != DType.Int64 && idxs.DType != DType.Int32) || idxs.Rank != 1 || idxs.Size(0) != b.Size(0))
            throw new TensorShapeException($"batched_nms: 'idxs' expected an int64 or int32 tensor [{b.Size(0)}] (one category per box), found {idxs.DType.Name()} of shape {Shapes.Format(idxs.Shape)}", nameof(idxs));
        if (b.Size(0) == 0)
            return Tensor.Allocate([0], DType.Int64, b.Device, zero: false);
        float[] coordinates = b.ToArray();
        float offsetStep = coordinates.Max() + 1f;
        float[] categories = ToFloat(idxs.To(Device.Cpu)).ToArray();
        for (int i = 0; i < coordinates.Length; i++)
            coordinates[i] += categories[i / 4] * offsetStep;
        return RunNms(Tensor.FromData<float>(coordinates, b.Shape).To(b.Device), s, iouThreshold);
    }

    private static Tensor RunNms(Tensor boxes, Tensor scores, float iouThreshold)
    {
        if (boxes.Device.IsGpu)
            return RunNms(boxes.To(Device.Cpu), scores.To(Device.Cpu), iouThreshold).To(boxes.Device);
        int count = boxes.Size(0);
        var keep = new long[count];
        int kept;
        unsafe
        {
            fixed (long* k = keep)
                kept = Kernels.Cpu.Boxes.Nms(boxes.Pointer<float>(), scores.Pointer<float>(), count, iouThreshold, k);
        }
        return Tensor.FromData<long>(keep.AsSpan(0, kept), [kept]);
    }

    /// <summary>Checks a float [N, 4] box tensor and returns it dense.</summary>
    private static Tensor ExpectBoxes(string op, Tensor boxes, string argument)
    {
        boxes.ExpectFloat(op, argument);
        if (boxes.Rank != 2 || boxes.ShapeArray[1] != 4)
            throw new TensorShapeException($"{op}: '{argument}' expected [N, 4] boxes (x1, y1, x2, y2), found shape {Shapes.Format(boxes.Shape)}", argument);
        return boxes.Detach().Contiguous();
    }

    private static Tensor ExpectScores(string op, Tensor scores, int count)
    {
        scores.ExpectFloat(op, nameof(scores));
        if (scores.Rank != 1 || scores.ShapeArray[0] != count)
            throw new TensorShapeException($"{op}: 'scores' expected [{count}] (one score per box), found shape {Shapes.Format(scores.Shape)}", nameof(scores));
        return scores.Detach().Contiguous();
    }
}

/// <summary>torchvision.models.detection._utils.BoxCoder: encodes and decodes box regression targets with fixed weights.</summary>
public sealed class BoxCoder((float X, float Y, float W, float H) weights, float? bboxXformClip = null)
{
    public (float X, float Y, float W, float H) Weights { get; } = weights;

    public float BboxXformClip { get; } = bboxXformClip ?? Functional.BboxXformClip;

    /// <summary>Targets [K, 4] that move proposals [K, 4] onto referenceBoxes [K, 4].</summary>
    public Tensor EncodeSingle(Tensor referenceBoxes, Tensor proposals) => Functional.BoxEncode(referenceBoxes, proposals, Weights);

    /// <summary>Boxes [K, 4·C] from relCodes [K, 4·C] applied to boxes [K, 4].</summary>
    public Tensor DecodeSingle(Tensor relCodes, Tensor boxes) => Functional.BoxDecode(relCodes, boxes, Weights, BboxXformClip);
}
