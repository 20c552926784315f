using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Demo;
using Tessera.Models.Nn;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Recipes;

/// <summary>
/// Tasks over the demo's procedural strokes (<see cref="ShapesDataset"/>), until the world's
/// sources land: "shapes" (which of 4 strokes) and "shapes-bars" (a bar, horizontal or vertical,
/// versus not: 2 classes). Images are resized (bilinear) from 16 px to the task's input size, so
/// tasks can train at different sizes on different SIMT devices.
/// </summary>
public sealed class ShapesTaskSource : ITaskSource
{
    private readonly ShapesDataset _data;
    private readonly bool _bars;

    public ShapesTaskSource(string name, ulong seed, bool bars)
    {
        Name = name;
        _data = new ShapesDataset(seed);
        _bars = bars;
    }

    public string Name { get; }

    public int ClassCount => _bars ? 2 : ShapesDataset.ClassCount;

    public TaskBatch Sample(DataSplit split, long index, int batchSize, int inputSize, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 4);
        // Training draws which procedural batch to use from the device's stream (so the stream's
        // state matters, and checkpoints must carry it); test batches sit past the training range.
        int batchIndex = split == DataSplit.Train ? generator.NextInt(1_000_000) : 1_000_000 + checked((int)index);
        var (images, labels) = _data.Batch(batchIndex, batchSize);
        if (inputSize != ShapesDataset.ImageSize)
            images = F.Interpolate(images, (inputSize, inputSize), mode: InterpolationMode.Bilinear, alignCorners: false);
        if (_bars)
        {
            var raw = labels.ToArray<long>();
            labels = Tensor.FromArray(raw.Select(l => l <= 1 ? 0L : 1L).ToArray(), raw.Length);
        }
        return new TaskBatch(images, labels);
    }
}

/// <summary>Global average pool, then a linear classifier; cross-entropy loss; top-1 accuracy.</summary>
public sealed class ClassificationHead : ITaskHead
{
    private readonly Linear _classifier;

    public ClassificationHead(int featureChannels, int classCount, Generator generator)
    {
        _classifier = new Linear(featureChannels, classCount, generator: generator);
    }

    public Module Module => _classifier;

    /// <summary>Class logits [B, classes] from the globally pooled final map.</summary>
    internal Tensor Logits(Features features)
    {
        var map = features.Final;
        var pooled = map.Rank == 4 ? F.GlobalAvgPool2d(map).Flatten(1) : map;
        return _classifier.Forward(pooled);
    }

    public TaskOutput Forward(Features features, TaskBatch batch)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Targets is not Tensor labels)
            throw new ArgumentException($"classification head: targets expected an int64 label tensor, found {batch.Targets?.GetType().Name ?? "null"}", nameof(batch));
        var logits = Logits(features);
        var loss = F.CrossEntropy(logits, labels);
        var predicted = logits.Argmax(1).ToArray<long>();
        var truth = labels.ToArray<long>();
        int correct = 0;
        for (int i = 0; i < truth.Length; i++) correct += predicted[i] == truth[i] ? 1 : 0;
        return new TaskOutput(loss, new Dictionary<string, double> { ["top1"] = truth.Length == 0 ? 0 : (double)correct / truth.Length });
    }
}

/// <summary>
/// A small conv backbone: three 3x3 conv stages (width, 2·width, 4·width) of <c>depth</c> convs,
/// each conv [+ SyncBN] + ReLU, max-pooling after the first two stages. Task-agnostic (hard sharing).
/// </summary>
public sealed class SmallConvBackbone : IMultiTaskBackbone
{
    private readonly Sequential _layers;

    public SmallConvBackbone(int inChannels, int width, bool batchNorm, Generator generator, int depth = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        _layers = new Sequential();
        int channels = inChannels;
        for (int stage = 0; stage < 3; stage++)
        {
            int outChannels = width << stage;
            for (int conv = 0; conv < depth; conv++)
            {
                _layers.Add(new Conv2d(channels, outChannels, 3, padding: 1, bias: !batchNorm, generator: generator));
                if (batchNorm) _layers.Add(new BatchNorm2d(outChannels));
                _layers.Add(Lambda.Relu());
                channels = outChannels;
            }
            if (stage < 2) _layers.Add(new MaxPool2d(2));
        }
        OutChannels = channels;
    }

    public int OutChannels { get; }

    public Module Module => _layers;

    public Features Forward(string task, Tensor input) => new(_layers.Forward(input));
}
