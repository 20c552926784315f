using Tessera.Autograd;
using Tessera.Engine;

namespace Tessera.Models.Detection;

/// <summary>
/// Hyper-parameters of <see cref="FasterRcnn"/>, named and defaulted as torchvision's FasterRCNN
/// (minus image resizing: images are used at the size given). Class count includes background (label 0).
/// </summary>
public sealed record FasterRcnnOptions
{
    /// <summary>Classes including background: labels of objects are 1 .. ClassCount - 1.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>Anchor sizes per feature level (one array per level).</summary>
    public IReadOnlyList<float[]> AnchorSizes { get; init; } = [[32f, 64f, 128f, 256f, 512f]];

    /// <summary>Anchor aspect ratios (height / width) per feature level.</summary>
    public IReadOnlyList<float[]> AspectRatios { get; init; } = [[0.5f, 1f, 2f]];

    public int RpnPreNmsTopNTrain { get; init; } = 2000;
    public int RpnPreNmsTopNTest { get; init; } = 1000;
    public int RpnPostNmsTopNTrain { get; init; } = 2000;
    public int RpnPostNmsTopNTest { get; init; } = 1000;
    public float RpnNmsThreshold { get; init; } = 0.7f;
    public float RpnForegroundIouThreshold { get; init; } = 0.7f;
    public float RpnBackgroundIouThreshold { get; init; } = 0.3f;
    public int RpnBatchSizePerImage { get; init; } = 256;
    public float RpnPositiveFraction { get; init; } = 0.5f;
    public float RpnScoreThreshold { get; init; }
    public float RpnMinSize { get; init; } = 1e-3f;

    /// <summary>RoIAlign output side (torchvision: 7) and sampling ratio (2).</summary>
    public int RoiPoolSize { get; init; } = 7;
    public int RoiSamplingRatio { get; init; } = 2;

    /// <summary>Width of TwoMLPHead's hidden layers (torchvision: 1024).</summary>
    public int RepresentationSize { get; init; } = 1024;

    public float BoxForegroundIouThreshold { get; init; } = 0.5f;
    public float BoxBackgroundIouThreshold { get; init; } = 0.5f;
    public int BoxBatchSizePerImage { get; init; } = 512;
    public float BoxPositiveFraction { get; init; } = 0.25f;
    public float BoxScoreThreshold { get; init; } = 0.05f;
    public float BoxNmsThreshold { get; init; } = 0.5f;
    public int DetectionsPerImage { get; init; } = 100;

    internal void Validate()
    {
        if (ClassCount < 2)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, "FasterRcnnOptions: 'ClassCount' counts background too, so it must be at least 2");
        foreach (var (name, value) in new[] { (nameof(RpnPreNmsTopNTrain), RpnPreNmsTopNTrain), (nameof(RpnPreNmsTopNTest), RpnPreNmsTopNTest),
            (nameof(RpnPostNmsTopNTrain), RpnPostNmsTopNTrain), (nameof(RpnPostNmsTopNTest), RpnPostNmsTopNTest), (nameof(RoiPoolSize), RoiPoolSize),
            (nameof(RepresentationSize), RepresentationSize), (nameof(DetectionsPerImage), DetectionsPerImage),
            (nameof(RpnBatchSizePerImage), RpnBatchSizePerImage), (nameof(BoxBatchSizePerImage), BoxBatchSizePerImage) })
            if (value < 1)
                throw new ArgumentOutOfRangeException(name, value, $"FasterRcnnOptions: '{name}' must be at least 1, found {value}");
    }
}

/// <summary>Ground truth of one image: boxes [K, 4] (x1, y1, x2, y2, pixels) and int64 labels [K] in 1 .. classes - 1.</summary>
public sealed record DetectionTarget(Tensor Boxes, Tensor Labels)
{
    internal float[] BoxArray() => Boxes.Numel == 0 ? [] : Boxes.Contiguous().ToArray();

    internal long[] LabelArray() => Labels.Numel == 0 ? [] : Labels.Contiguous().ToArray<long>();

    internal void Validate(int index, int classCount)
    {
        if (Boxes.DType != DType.Float32 || Boxes.Rank != 2 || Boxes.Size(1) != 4)
            throw new ArgumentException($"FasterRcnn: targets[{index}].Boxes expected float32 [K, 4] (x1, y1, x2, y2), found {Boxes.DType.Name()} of shape {Shapes.Format(Boxes.Shape)}", nameof(Boxes));
        if (Labels.DType != DType.Int64 || Labels.Rank != 1 || Labels.Size(0) != Boxes.Size(0))
            throw new ArgumentException($"FasterRcnn: targets[{index}].Labels expected int64 [{Boxes.Size(0)}] (one per box), found {Labels.DType.Name()} of shape {Shapes.Format(Labels.Shape)}", nameof(Labels));
        foreach (long label in LabelArray())
            if (label < 1 || label >= classCount)
                throw new ArgumentOutOfRangeException(nameof(Labels), label, $"FasterRcnn: targets[{index}] has label {label}; object labels must be in [1, {classCount - 1}] (0 is background)");
        var boxes = BoxArray();
        for (int i = 0; i < boxes.Length; i += 4)
            if (!(boxes[i + 2] > boxes[i] && boxes[i + 3] > boxes[i + 1]))
                throw new ArgumentException($"FasterRcnn: targets[{index}] box {i / 4} ({boxes[i]}, {boxes[i + 1]}, {boxes[i + 2]}, {boxes[i + 3]}) must have positive width and height", nameof(Boxes));
    }
}

/// <summary>Detections of one image: boxes [D, 4], scores [D] (best first), int64 labels [D].</summary>
public sealed record Detections(Tensor Boxes, Tensor Scores, Tensor Labels);

/// <summary>What <see cref="FasterRcnn.Forward"/> returns: losses in training mode, detections in eval mode.</summary>
public sealed record FasterRcnnOutput(IReadOnlyDictionary<string, Tensor>? Losses, IReadOnlyList<Detections>? Detections);
