using Tessera.Autograd;
using Tessera.Engine.Threading;
using Tessera.Models.Data.Images;
using Tessera.Models.Data.Loading;
using Tessera.Models.Data.World;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>
/// One pre-training batch: two augmented views of the same scenes (normalised like
/// <see cref="WorldBatch"/>), the noisy tags the losses see and the clean tags kept for
/// evaluation. Owns its tensors.
/// </summary>
public sealed class HvpBatch : IDisposable
{
    /// <summary>[B, 3, S, S]: view 1 (multi-label, momentum distillation, SwAV's f_t).</summary>
    public required Tensor View1 { get; init; }
    /// <summary>[B, 3, S, S]: view 2 (SwAV's f_s; masked for SimMIM).</summary>
    public required Tensor View2 { get; init; }
    /// <summary>[B, 12] noisy tags (what training sees).</summary>
    public required Tensor Tags { get; init; }
    /// <summary>[B, 12] clean tags (evaluation only).</summary>
    public required Tensor CleanTags { get; init; }

    public void Dispose()
    {
        View1.Dispose();
        View2.Dispose();
        Tags.Dispose();
        CleanTags.Dispose();
    }
}

/// <summary>
/// HVP-MTL's views (paper Fig. 2: colour jittering, random cropping, random rotation; patch
/// masking is applied to view 2 by the SimMIM objective): random resized crop (area
/// CropScale..1), random rotation (± Rotation degrees), colour jitter (brightness, contrast,
/// saturation ± ColorJitter), each view with its own Philox stream keyed by (scene, step, view).
/// </summary>
public static class HvpViews
{
    /// <summary>Training batch <paramref name="step"/> of the source's train stream.</summary>
    public static HvpBatch Batch(WorldSource source, HvpMtlSettings settings, int step)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(settings);
        int batchSize = settings.Batch, size = settings.ImageSize, plane = size * size;
        var indices = WorldLoader.Indices(source, "train", batchSize, step, settings.Seed);
        var norm = ImageNormalisation.Default;
        var view1 = new float[batchSize * 3 * plane];
        var view2 = new float[batchSize * 3 * plane];
        var tags = new float[batchSize * ShapeSdf.Count];
        var clean = new float[batchSize * ShapeSdf.Count];
        CpuParallel.For(batchSize, 1, (from, to) =>
        {
            var buffers = new SceneBuffers(size);
            for (int b = from; b < to; b++)
            {
                var scene = WorldGenerator.Generate(source, "train", indices[b], settings.Seed, size, buffers);
                var sample = ImageSample.FromScene(scene);
                for (int view = 0; view < 2; view++)
                {
                    var random = new SceneRandom(SceneKey.Hash(source.Name, $"hvp-view{view}", indices[b], SceneKey.Mix(settings.Seed) ^ (ulong)step));
                    var image = Augmented(sample, random, settings).Image;
                    var target = view == 0 ? view1 : view2;
                    for (int c = 0; c < 3; c++)
                        for (int i = 0; i < plane; i++)
                            target[(b * 3 + c) * plane + i] = (image[c * plane + i] - norm.Mean[c]) / norm.Std[c];
                }
                for (int t = 0; t < ShapeSdf.Count; t++)
                {
                    tags[b * ShapeSdf.Count + t] = scene.Tags[t] ? 1f : 0f;
                    clean[b * ShapeSdf.Count + t] = scene.CleanTags[t] ? 1f : 0f;
                }
            }
        });
        return new HvpBatch
        {
            View1 = Tensor.FromArray(view1, batchSize, 3, size, size),
            View2 = Tensor.FromArray(view2, batchSize, 3, size, size),
            Tags = Tensor.FromArray(tags, batchSize, ShapeSdf.Count),
            CleanTags = Tensor.FromArray(clean, batchSize, ShapeSdf.Count),
        };
    }

    /// <summary>Crop, rotate, jitter (in that order).</summary>
    public static ImageSample Augmented(ImageSample sample, SceneRandom random, HvpMtlSettings settings)
    {
        var view = Augment.RandomResizedCrop(sample, random, sample.Width, settings.CropScale, 1f);
        if (settings.Rotation > 0f) view = Augment.RandomRotation(view, random, settings.Rotation);
        if (settings.ColorJitter > 0f) view = Augment.ColorJitter(view, random, settings.ColorJitter, settings.ColorJitter, settings.ColorJitter);
        return view;
    }
}
