using Tessera.Autograd;
using Tessera.Engine.Threading;

namespace Tessera.Models.Data.World;

/// <summary>Per-channel normalisation applied to batch images: (x - mean) / std.</summary>
public sealed record ImageNormalisation(float[] Mean, float[] Std)
{
    /// <summary>Mean 0.5, std 0.25 per channel: world images have roughly that range.</summary>
    public static ImageNormalisation Default { get; } = new([0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]);
}

/// <summary>
/// A batch of scenes as tensors with the targets of every task. Owns its tensors (dispose it, or
/// create it inside a <see cref="TensorScope"/>).
/// </summary>
public sealed class WorldBatch : IDisposable
{
    private WorldBatch() { }

    /// <summary>[B, 3, S, S] float, normalised.</summary>
    public required Tensor Images { get; init; }
    /// <summary>[B] int64: the source's classification label of each scene.</summary>
    public required Tensor Classes { get; init; }
    /// <summary>[B, 12] float 0/1: the (noisy) tag set over shapes.</summary>
    public required Tensor MultiLabels { get; init; }
    /// <summary>[B, 12] float 0/1: the clean tag set (shapes of the visible objects, no tag noise); for evaluation only.</summary>
    public required Tensor CleanMultiLabels { get; init; }
    /// <summary>Per image [K, 4] float boxes (x1, y1, x2, y2 in pixels).</summary>
    public required IReadOnlyList<Tensor> Boxes { get; init; }
    /// <summary>Per image [K] int64 shape classes.</summary>
    public required IReadOnlyList<Tensor> BoxLabels { get; init; }
    /// <summary>[B, S, S] int64 semantic classes under the source's segmentation labels.</summary>
    public required Tensor Semantic { get; init; }
    /// <summary>[B, 1, S, S] float depth.</summary>
    public required Tensor Depth { get; init; }
    public required IReadOnlyList<string> Captions { get; init; }
    /// <summary>[B, L] int64 caption tokens (begin, words, end, padding) over <see cref="CaptionVocabulary"/>.</summary>
    public required Tensor CaptionTokens { get; init; }

    public int Count => Captions.Count;

    /// <summary>Labels of one scene besides its pixel maps (what <see cref="Pack"/> needs from a producer).</summary>
    internal sealed record Labels(int Class, IReadOnlyList<bool> Tags, string Caption, IReadOnlyList<Box> Boxes, IReadOnlyList<int> BoxLabels, IReadOnlyList<bool> CleanTags);

    /// <summary>Generates the scenes <paramref name="indices"/> of a split in parallel and packs them.</summary>
    public static WorldBatch Create(WorldSource source, string split, IReadOnlyList<long> indices, ulong seed, int size = WorldGenerator.DefaultSize,
                                    int captionLength = 16, ImageNormalisation? normalisation = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(indices);
        return Pack(source, size, indices.Count, captionLength, normalisation, (b, buffers) =>
        {
            var scene = WorldGenerator.Generate(source, split, indices[b], seed, size, buffers);
            return new Labels(source.ClassOf(scene.Layout), scene.Tags, scene.Caption, scene.Boxes, scene.Objects.Select(o => (int)o.Shape).ToArray(), scene.CleanTags);
        });
    }

    /// <summary>Packs <paramref name="batch"/> scenes: <paramref name="fill"/>(b, buffers) writes scene b's image, semantic and depth maps and returns its labels.</summary>
    internal static WorldBatch Pack(WorldSource source, int size, int batch, int captionLength, ImageNormalisation? normalisation, Func<int, SceneBuffers, Labels> fill)
    {
        normalisation ??= ImageNormalisation.Default;
        int plane = size * size;
        var images = new float[batch * 3 * plane];
        var classes = new long[batch];
        var tags = new float[batch * ShapeSdf.Count];
        var cleanTags = new float[batch * ShapeSdf.Count];
        var semantic = new long[batch * plane];
        var depth = new float[batch * plane];
        var tokens = new long[batch * captionLength];
        var captions = new string[batch];
        var boxes = new float[batch][];
        var boxLabels = new long[batch][];
        CpuParallel.For(batch, 1, (from, to) =>
        {
            var buffers = new SceneBuffers(size);
            for (int b = from; b < to; b++)
            {
                var labels = fill(b, buffers);
                for (int c = 0; c < 3; c++)
                {
                    float mean = normalisation.Mean[c], inv = 1f / normalisation.Std[c];
                    var src = buffers.Image.AsSpan(c * plane, plane);
                    var dst = images.AsSpan((b * 3 + c) * plane, plane);
                    for (int i = 0; i < plane; i++) dst[i] = (src[i] - mean) * inv;
                }
                classes[b] = labels.Class;
                for (int t = 0; t < ShapeSdf.Count; t++)
                {
                    tags[b * ShapeSdf.Count + t] = labels.Tags[t] ? 1f : 0f;
                    cleanTags[b * ShapeSdf.Count + t] = labels.CleanTags[t] ? 1f : 0f;
                }
                for (int i = 0; i < plane; i++) semantic[b * plane + i] = source.SegmentationClass(buffers.Semantic[i]);
                buffers.Depth.CopyTo(depth, b * plane);
                captions[b] = labels.Caption;
                CaptionVocabulary.Encode(labels.Caption, tokens.AsSpan(b * captionLength, captionLength));
                int count = labels.Boxes.Count;
                boxes[b] = new float[count * 4];
                boxLabels[b] = new long[count];
                for (int k = 0; k < count; k++)
                {
                    var box = labels.Boxes[k];
                    boxes[b][k * 4] = box.X1;
                    boxes[b][k * 4 + 1] = box.Y1;
                    boxes[b][k * 4 + 2] = box.X2;
                    boxes[b][k * 4 + 3] = box.Y2;
                    boxLabels[b][k] = labels.BoxLabels[k];
                }
            }
        });
        return new WorldBatch
        {
            Images = Tensor.FromArray(images, batch, 3, size, size),
            Classes = Tensor.FromArray(classes, batch),
            MultiLabels = Tensor.FromArray(tags, batch, ShapeSdf.Count),
            CleanMultiLabels = Tensor.FromArray(cleanTags, batch, ShapeSdf.Count),
            Boxes = boxes.Select(b => Tensor.FromArray(b, b.Length / 4, 4)).ToArray(),
            BoxLabels = boxLabels.Select(l => Tensor.FromArray(l, l.Length)).ToArray(),
            Semantic = Tensor.FromArray(semantic, batch, size, size),
            Depth = Tensor.FromArray(depth, batch, 1, size, size),
            Captions = captions,
            CaptionTokens = Tensor.FromArray(tokens, batch, captionLength),
        };
    }

    public void Dispose()
    {
        Images.Dispose();
        Classes.Dispose();
        MultiLabels.Dispose();
        CleanMultiLabels.Dispose();
        foreach (var t in Boxes) t.Dispose();
        foreach (var t in BoxLabels) t.Dispose();
        Semantic.Dispose();
        Depth.Dispose();
        CaptionTokens.Dispose();
    }
}
