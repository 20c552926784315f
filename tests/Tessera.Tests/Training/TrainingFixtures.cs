using System.Collections.Concurrent;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Training;

/// <summary>
/// A random-image classification source for trainer tests: inputs drawn from the device's
/// generator (so its state matters for exact resume), labels from the image mean. Optionally
/// returns NaN images at one step, and records every training batch by generator seed so tests
/// can replay what each device saw.
/// </summary>
internal sealed class RandomSource(string name, int classCount, long nanAtStep = -1) : ITaskSource
{
    public string Name { get; } = name;

    public int ClassCount { get; } = classCount;

    /// <summary>Training batches by (generator seed, step), cloned out of the trainer's scopes.</summary>
    public ConcurrentDictionary<(ulong Seed, long Step), TaskBatch> Seen { get; } = new();

    public TaskBatch Sample(DataSplit split, long index, int batchSize, int inputSize, Generator generator)
    {
        var g = split == DataSplit.Train ? generator : new Generator(1000 + (ulong)index);
        var images = Tensor.Randn([batchSize, 2, inputSize, inputSize], g);
        if (split == DataSplit.Train && index == nanAtStep)
            images = images * float.NaN;
        var means = images.Mean([1, 2, 3]).ToArray<float>();
        var labels = Tensor.FromArray(means.Select(m => (long)Math.Clamp((int)((m + 0.5f) * ClassCount), 0, ClassCount - 1)).ToArray(), batchSize);
        if (split == DataSplit.Train)
            using (TensorScope.Unscoped())
                Seen[(generator.Seed, index)] = new TaskBatch(images.Clone(), labels.Clone());
        return new TaskBatch(images, labels);
    }
}

/// <summary>conv 3x3 (2 → width) + SyncBN + ReLU, optionally a second conv; BN can be limited to some tasks (to test the SyncBN mismatch error).</summary>
internal sealed class TinyBackbone : IMultiTaskBackbone
{
    private readonly Sequential _layers;
    private readonly Func<string, bool> _useBatchNorm;

    public TinyBackbone(int width, Generator generator, Func<string, bool>? useBatchNorm = null)
    {
        _useBatchNorm = useBatchNorm ?? (_ => true);
        _layers = new Sequential(new Conv2d(2, width, 3, padding: 1, generator: generator), new BatchNorm2d(width), Lambda.Relu(),
            new Conv2d(width, width, 3, stride: 2, padding: 1, generator: generator));
        Width = width;
    }

    public int Width { get; }

    public Module Module => _layers;

    public Features Forward(string task, Tensor input)
    {
        var x = _layers.Layers[0].Forward(input);
        if (_useBatchNorm(task)) x = _layers.Layers[1].Forward(x);
        x = _layers.Layers[2].Forward(x);
        return new Features(_layers.Layers[3].Forward(x));
    }
}

internal static class TrainingFixtures
{
    /// <summary>Tasks "a" (3 classes, 8 px, batch 4), "b" (2 classes, <paramref name="sizeB"/> px, batch 3), "c" (weight 0: never sampled).</summary>
    public static (MultiTaskModel Model, RandomSource[] Sources) Build(ulong seed, int sizeB = 8, long nanAtStep = -1, int width = 4, Func<string, bool>? useBatchNorm = null)
    {
        var init = new Generator(seed);
        var backbone = new TinyBackbone(width, init, useBatchNorm);
        var sources = new[] { new RandomSource("a", 3, nanAtStep), new RandomSource("b", 2), new RandomSource("c", 2) };
        var tasks = new List<TrainingTask>
        {
            new("a", sources[0], new ClassificationHead(width, 3, init), 1.0, 4, 8),
            new("b", sources[1], new ClassificationHead(width, 2, init), 1.0, 3, sizeB),
            new("c", sources[2], new ClassificationHead(width, 2, init), 0.0, 3, 8),
        };
        return (new MultiTaskModel(backbone, tasks), sources);
    }

    /// <summary>Every state-dict tensor's values, for bitwise comparisons.</summary>
    public static Dictionary<string, float[]> Snapshot(Module model) =>
        model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToFloat().ToArray(), StringComparer.Ordinal);

    public static void AssertBitwiseEqual(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        Xunit.Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, values) in expected)
        {
            var other = actual[key];
            for (int i = 0; i < values.Length; i++)
                if (BitConverter.SingleToInt32Bits(values[i]) != BitConverter.SingleToInt32Bits(other[i]))
                    Xunit.Assert.Fail($"'{key}'[{i}]: {values[i]:R} vs {other[i]:R}");
        }
    }

    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Classification head features for a slice of devices' batches, used by the SIMT reference.</summary>
    public static Tensor Rows(Tensor t, int start, int count) => t.Narrow(0, start, count);

    public static Tensor Concat(IReadOnlyList<Tensor> parts) => F.Cat(parts, 0);
}
