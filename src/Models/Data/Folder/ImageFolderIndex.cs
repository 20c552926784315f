using System.IO.Hashing;
using System.Text;
using Tessera.Models.Data.Images;

namespace Tessera.Models.Data.Folder;

/// <summary>One image file of a folder dataset and its class index.</summary>
public sealed record ImageFolderItem(string Path, int Label);

/// <summary>
/// The files of a folder dataset in PyTorch's ImageFolder layout: one subfolder per class (files
/// found recursively, in ordinal order of their relative paths), either directly under the root or
/// under <c>train/</c> with an optional <c>val/</c> (or <c>validation/</c>, <c>test/</c>) beside it.
/// Without a validation folder, a fixed 10% of each class (by a hash of the file's relative path,
/// so adding files does not reshuffle the others) is held out. Files whose extension is not an
/// image are skipped and counted; a train class folder without images, a root without class
/// folders, or a missing root is an error that says what was found.
/// </summary>
public sealed class ImageFolderIndex
{
    /// <summary>Fraction of each class held out for validation when there is no val/ folder.</summary>
    public const double HeldOutFraction = 0.1;

    private static readonly string[] ValidationNames = ["val", "validation", "test"];

    private ImageFolderIndex(string root, IReadOnlyList<string> classes, List<ImageFolderItem> train, List<ImageFolderItem> validation,
                             bool heldOut, List<string> nonImages)
    {
        Root = root;
        Classes = classes;
        Train = train;
        Validation = validation;
        ValidationIsHeldOut = heldOut;
        NonImageFiles = nonImages;
    }

    public string Root { get; }

    /// <summary>Class names (the train class folders' names, sorted ordinally); a label is an index into this list.</summary>
    public IReadOnlyList<string> Classes { get; }

    public IReadOnlyList<ImageFolderItem> Train { get; }

    public IReadOnlyList<ImageFolderItem> Validation { get; }

    /// <summary>True when the validation split is the held-out 10% of the class folders (no val/ folder).</summary>
    public bool ValidationIsHeldOut { get; }

    /// <summary>Files skipped because their extension is not an image one (see <see cref="ImageCodec.Extensions"/>).</summary>
    public IReadOnlyList<string> NonImageFiles { get; }

    /// <summary>Lists <paramref name="root"/>; reads no image bytes.</summary>
    public static ImageFolderIndex Scan(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        string full = System.IO.Path.GetFullPath(root);
        if (File.Exists(full))
            throw new ArgumentException($"image folder '{root}' is a file, not a folder; expected a folder with one subfolder of images per class (PyTorch's ImageFolder layout)");
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"image folder '{root}' does not exist (resolved to {full}); expected a folder with one subfolder of images per class");
        var nonImages = new List<string>();
        string trainRoot = Directory.Exists(System.IO.Path.Combine(full, "train")) ? System.IO.Path.Combine(full, "train") : full;
        string? validationRoot = trainRoot == full ? null
            : ValidationNames.Select(n => System.IO.Path.Combine(full, n)).FirstOrDefault(Directory.Exists);
        var classFolders = Directory.GetDirectories(trainRoot).Select(d => System.IO.Path.GetFileName(d))
            .Where(n => !n.StartsWith('.') && (trainRoot != full || !ValidationNames.Contains(n))).Order(StringComparer.Ordinal).ToList();
        if (classFolders.Count == 0)
        {
            int loose = Directory.GetFiles(trainRoot).Count(IsImage);
            throw new InvalidDataException($"image folder '{trainRoot}' has no class subfolders{(loose > 0 ? $" but {loose} images directly inside" : "")}; " +
                                           "put each class's images in its own subfolder (root/CLASS/*.jpg, or root/train/CLASS and root/val/CLASS)");
        }
        if (classFolders.Count < 2)
            throw new InvalidDataException($"image folder '{trainRoot}' has one class folder ('{classFolders[0]}'); a classifier needs at least two classes");
        var train = new List<ImageFolderItem>();
        var validation = new List<ImageFolderItem>();
        for (int label = 0; label < classFolders.Count; label++)
        {
            var files = ListImages(System.IO.Path.Combine(trainRoot, classFolders[label]), nonImages);
            if (files.Count == 0)
                throw new InvalidDataException($"class folder '{System.IO.Path.Combine(trainRoot, classFolders[label])}' holds no images ({ImageCodec.Extensions.Count} extensions are read: " +
                                               $"{string.Join(", ", ImageCodec.Extensions.Order(StringComparer.Ordinal))}); add images or remove the folder");
            if (validationRoot is null && files.Count >= 2)
            {
                // Held out by hash rank, at least one per class with two or more files.
                int heldOut = Math.Max(1, (int)Math.Round(files.Count * HeldOutFraction));
                var ranked = files.OrderBy(f => Hash(System.IO.Path.GetRelativePath(full, f))).ThenBy(f => f, StringComparer.Ordinal).ToList();
                var held = ranked.Take(heldOut).ToHashSet(StringComparer.Ordinal);
                train.AddRange(files.Where(f => !held.Contains(f)).Select(f => new ImageFolderItem(f, label)));
                validation.AddRange(files.Where(held.Contains).Select(f => new ImageFolderItem(f, label)));
            }
            else
            {
                train.AddRange(files.Select(f => new ImageFolderItem(f, label)));
            }
        }
        if (validationRoot is not null)
        {
            foreach (var folder in Directory.GetDirectories(validationRoot).Order(StringComparer.Ordinal))
            {
                string name = System.IO.Path.GetFileName(folder);
                if (name.StartsWith('.')) continue;
                int label = classFolders.IndexOf(name);
                if (label < 0)
                    throw new InvalidDataException($"validation class folder '{folder}' has no train folder of the same name; train classes: {string.Join(", ", classFolders)}");
                validation.AddRange(ListImages(folder, nonImages).Select(f => new ImageFolderItem(f, label)));
            }
        }
        return new ImageFolderIndex(full, classFolders, train, validation, validationRoot is null, nonImages);
    }

    private static List<string> ListImages(string folder, List<string> nonImages)
    {
        var images = new List<string>();
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (IsImage(file)) images.Add(file);
            else nonImages.Add(file);
        }
        return images;
    }

    private static bool IsImage(string path) => !System.IO.Path.GetFileName(path).StartsWith('.') && ImageCodec.Extensions.Contains(System.IO.Path.GetExtension(path));

    private static ulong Hash(string relativePath) => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(relativePath.Replace('\\', '/')));
}
