using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;
using Tessera.Models.Training;

namespace Tessera.Models.Data.Folder;

/// <summary>
/// Writes a classification source of the procedural world as a folder of JPEGs in ImageFolder
/// layout (DIR/train/CLASS/*.jpg, DIR/val/CLASS/*.jpg): a real folder to try 'tessera train
/// folder' on from a clean clone, and the same images for a PyTorch ImageFolder comparison.
/// </summary>
public static class ImageFolderExport
{
    /// <summary>Exports <paramref name="trainCount"/> train scenes and <paramref name="validationCount"/> test scenes of <paramref name="source"/>; returns the files written.</summary>
    public static int Write(WorldSource source, string folder, int trainCount, int validationCount, int size, int quality = 90, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Task != WorldTask.Classification)
            throw new ArgumentException($"data export: source '{source.Name}' is a {source.Task.ToString().ToLowerInvariant()} source; only classification sources map onto class folders (try shapes-cls)");
        ArgumentOutOfRangeException.ThrowIfLessThan(trainCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(validationCount);
        var names = source.ClassNames();
        int total = trainCount + validationCount, written = 0;
        foreach (var (split, count, folderName) in new[] { ("train", trainCount, "train"), ("test", validationCount, "val") })
        {
            const int chunk = 64;
            for (int start = 0; start < count; start += chunk)
            {
                var indices = Enumerable.Range(start, Math.Min(chunk, count - start)).Select(i => (long)i).ToArray();
                var batch = WorldBatch.Create(source, split, indices, 0, size);
                var images = batch.Images.Contiguous().ToArray<float>();
                var classes = batch.Classes.ToArray<long>();
                int plane = size * size;
                for (int b = 0; b < indices.Length; b++)
                {
                    var rgb = new byte[3 * plane];
                    for (int p = 0; p < plane; p++)
                        for (int c = 0; c < 3; c++)
                            rgb[3 * p + c] = (byte)Math.Clamp((int)MathF.Round(images[(b * 3 + c) * plane + p] * 255f), 0, 255);
                    string path = Path.Combine(folder, folderName, names[(int)classes[b]], $"{indices[b]:D6}.jpg");
                    AtomicFile.WriteAllBytes(path, ImageCodec.EncodeJpeg(rgb, size, size, quality));
                    written++;
                    progress?.Invoke(written, total);
                }
            }
        }
        return written;
    }
}
