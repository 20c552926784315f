using System.Collections.Concurrent;
using System.Globalization;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;
using Tessera.Models.Training;

namespace Tessera.Models.Data.Folder;

/// <summary>
/// A classification task over a folder of the user's images (<see cref="ImageFolderIndex"/>).
/// Preparation decodes every image once on the loader threads (one per core), skipping and
/// counting files that fail to decode (docs/DATA.md), and keeps each image scaled to its shorter
/// side = the input size in memory when they all fit in <see cref="CacheBudgetBytes"/>; otherwise
/// batches decode their files again, in parallel. Training images: RandomResizedCrop (area 25-100%)
/// and a horizontal flip, from the device's generator; validation images: the centre square. Both
/// are normalised with the ImageNet mean and std, as torchvision's recipes do.
/// </summary>
public sealed class ImageFolderSource : ITaskSource, IFiniteTestSplit, IPreparedSource, ILabelledSource
{
    /// <summary>The recipe source name.</summary>
    public const string SourceName = "image-folder";

    public static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    private readonly object _prepareLock = new();
    private Prepared? _prepared;

    /// <summary>What preparation produced for one input size: the usable items and, when cached, their scaled pixels.</summary>
    private sealed record Prepared(int InputSize, ImageFolderItem[] Train, ImageFolderItem[] Validation, RgbImage[]? TrainCache, RgbImage[]? ValidationCache);

    public ImageFolderSource(string name, ImageFolderIndex index, long? cacheBudgetBytes = null, ImageDecodeLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        Name = name;
        Index = index;
        Limits = limits ?? ImageDecodeLimits.Default;
        CacheBudgetBytes = cacheBudgetBytes ?? DefaultCacheBudget();
    }

    public string Name { get; }

    public ImageFolderIndex Index { get; }

    public ImageDecodeLimits Limits { get; }

    public IReadOnlyList<string> ClassNames => Index.Classes;

    /// <summary>Bytes the decoded-image cache may use: a quarter of the memory .NET may use, at most 4 GiB.</summary>
    public long CacheBudgetBytes { get; }

    /// <summary>True once prepared with every image held in memory.</summary>
    public bool IsCached => _prepared?.TrainCache is not null;

    /// <summary>Files that failed to decode during preparation, with the decoder's message.</summary>
    public IReadOnlyList<(string Path, ImageDecodeFailure Reason, string Message)> Skipped { get; private set; } = [];

    public string? PreparationSummary { get; private set; }

    public IReadOnlyList<string> PreparationWarnings { get; private set; } = [];

    public long TestCount => (_prepared?.Validation.Length) ?? Index.Validation.Count;

    public static long DefaultCacheBudget() => Math.Min(4L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    public void Prepare(int inputSize, Action<int, int>? progress = null)
    {
        lock (_prepareLock)
        {
            if (_prepared?.InputSize == inputSize) return;
            var all = Index.Train.Concat(Index.Validation).ToArray();
            // An upper estimate (a 2:1 aspect) so the decision is made before decoding anything.
            bool cache = (long)all.Length * inputSize * inputSize * 3 * 2 <= CacheBudgetBytes;
            var images = new RgbImage?[all.Length];
            var failures = new ConcurrentBag<(int Item, ImageDecodeFailure Reason, string Message)>();
            int done = 0;
            progress?.Invoke(0, all.Length);
            Parallel.For(0, all.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            {
                try
                {
                    var scaled = ImageResize.ShorterSide(ImageCodec.Read(all[i].Path, Limits), inputSize);
                    if (cache) images[i] = scaled;
                }
                catch (ImageDecodeException e)
                {
                    failures.Add((i, e.Reason, e.Message));
                }
                catch (IOException e)
                {
                    failures.Add((i, ImageDecodeFailure.Corrupt, $"{all[i].Path}: unreadable ({e.Message})"));
                }
                catch (UnauthorizedAccessException e)
                {
                    failures.Add((i, ImageDecodeFailure.Corrupt, $"{all[i].Path}: unreadable ({e.Message})"));
                }
                int finished = Interlocked.Increment(ref done);
                progress?.Invoke(finished, all.Length);
            });
            var failed = failures.Select(f => f.Item).ToHashSet();
            var trainKept = Enumerable.Range(0, Index.Train.Count).Where(i => !failed.Contains(i)).ToArray();
            var validationKept = Enumerable.Range(Index.Train.Count, Index.Validation.Count).Where(i => !failed.Contains(i)).ToArray();
            var missing = Enumerable.Range(0, Index.Classes.Count).Where(c => !trainKept.Any(i => all[i].Label == c)).ToList();
            if (missing.Count > 0)
                throw new InvalidDataException($"image folder '{Index.Root}': no train image of class {string.Join(", ", missing.Select(c => $"'{Index.Classes[c]}'"))} could be decoded " +
                                               $"({failures.Count} files failed; first: {failures.OrderBy(f => f.Item).First().Message})");
            Skipped = failures.OrderBy(f => f.Item).Select(f => (all[f.Item].Path, f.Reason, f.Message)).ToList();
            _prepared = new Prepared(inputSize, trainKept.Select(i => all[i]).ToArray(), validationKept.Select(i => all[i]).ToArray(),
                cache ? trainKept.Select(i => images[i]!).ToArray() : null, cache ? validationKept.Select(i => images[i]!).ToArray() : null);
            PreparationSummary = string.Create(CultureInfo.InvariantCulture,
                $"{Index.Root}: {Index.Classes.Count} classes, {trainKept.Length:N0} train and {validationKept.Length:N0} validation images{(Index.ValidationIsHeldOut ? " (held out: 10% of each class)" : "")}; " +
                $"skipped {Skipped.Count} undecodable and {Index.NonImageFiles.Count} non-image files; {(cache ? "decoded images cached in memory" : "decoding per batch (the cache would exceed its budget)")}");
            var warnings = new List<string>();
            if (Skipped.Count > 0)
                warnings.Add($"skipped {Skipped.Count} image file(s) that could not be decoded ({string.Join(", ", Skipped.GroupBy(s => s.Reason).Select(g => $"{g.Count()} {g.Key}"))}); first: {Skipped[0].Message}");
            if (Index.NonImageFiles.Count > 0)
                warnings.Add($"skipped {Index.NonImageFiles.Count} non-image file(s) (extension not one of {string.Join(" ", ImageCodec.Extensions.Order(StringComparer.Ordinal))}); first: {Index.NonImageFiles[0]}");
            PreparationWarnings = warnings;
        }
    }

    public TaskBatch Sample(DataSplit split, long index, int batchSize, int inputSize, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        return Batch(split == DataSplit.Train, augment: split == DataSplit.Train, index, batchSize, inputSize, new SceneRandom(generator));
    }

    /// <summary>Number of usable train images (after preparation at <paramref name="inputSize"/>).</summary>
    public int TrainCount(int inputSize)
    {
        Prepare(inputSize);
        return _prepared!.Train.Length;
    }

    /// <summary>
    /// Batch <paramref name="index"/> of the train (or validation) images in folder order, centre-cropped
    /// without augmentation (the last batch short): what a linear probe extracts features from.
    /// </summary>
    public TaskBatch Ordered(bool train, long index, int batchSize, int inputSize) =>
        Batch(train, augment: false, index, batchSize, inputSize, new SceneRandom(0));

    private TaskBatch Batch(bool train, bool augment, long index, int batchSize, int inputSize, SceneRandom random)
    {
        Prepare(inputSize);
        var prepared = _prepared!;
        var items = train ? prepared.Train : prepared.Validation;
        var cache = train ? prepared.TrainCache : prepared.ValidationCache;
        if (items.Length == 0)
            throw new InvalidDataException($"image folder '{Index.Root}': the {(train ? "train" : "validation")} split has no images");
        int count = augment ? batchSize : (int)Math.Clamp(items.Length - index * batchSize, 0, batchSize);
        // Every random draw happens here, in order, before decoding: the batch is a pure function of the generator state.
        var picks = new int[count];
        var crops = new (float X, float Y, float W, float H, bool Flip)[count];
        for (int i = 0; i < count; i++)
            picks[i] = augment ? random.NextInt(items.Length) : checked((int)(index * batchSize + i));
        var scaled = new RgbImage[count];
        if (cache is not null)
            for (int i = 0; i < count; i++) scaled[i] = cache[picks[i]];
        else
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                i => scaled[i] = ImageResize.ShorterSide(ImageCodec.Read(items[picks[i]].Path, Limits), inputSize));
        for (int i = 0; i < count; i++)
            crops[i] = augment ? RandomCrop(scaled[i], random) : CentreCrop(scaled[i]);
        int plane = inputSize * inputSize;
        var pixels = new float[count * 3 * plane];
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = items[picks[i]].Label;
            var sample = new ImageSample { Width = scaled[i].Width, Height = scaled[i].Height, Image = scaled[i].ToPlanar() };
            var (x, y, w, h, flip) = crops[i];
            var cropped = Augment.ResizedCrop(sample, x, y, w, h, inputSize, inputSize);
            if (flip) cropped = Augment.HorizontalFlip(cropped);
            for (int c = 0; c < 3; c++)
            {
                var source = cropped.Image.AsSpan(c * plane, plane);
                var target = pixels.AsSpan((i * 3 + c) * plane, plane);
                for (int p = 0; p < plane; p++) target[p] = (source[p] - Mean[c]) / Std[c];
            }
        }
        return new TaskBatch(Tensor.FromArray(pixels, count, 3, inputSize, inputSize), Tensor.FromArray(labels, count));
    }

    /// <summary>torchvision's RandomResizedCrop draw (area 25-100%, aspect 3/4-4/3, ten tries, then the centre) and a coin for the flip.</summary>
    private static (float, float, float, float, bool) RandomCrop(RgbImage image, SceneRandom random)
    {
        float area = image.Width * image.Height;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            float target = area * random.Range(0.25f, 1f);
            float ratio = random.LogRange(3f / 4f, 4f / 3f);
            int w = (int)MathF.Round(MathF.Sqrt(target * ratio)), h = (int)MathF.Round(MathF.Sqrt(target / ratio));
            if (w > 0 && h > 0 && w <= image.Width && h <= image.Height)
                return (random.NextInt(image.Width - w + 1), random.NextInt(image.Height - h + 1), w, h, random.Chance(0.5f));
        }
        var (cx, cy, cw, ch, _) = CentreCrop(image);
        return (cx, cy, cw, ch, random.Chance(0.5f));
    }

    private static (float, float, float, float, bool) CentreCrop(RgbImage image)
    {
        int side = Math.Min(image.Width, image.Height);
        return ((image.Width - side) / 2, (image.Height - side) / 2, side, side, false);
    }
}
