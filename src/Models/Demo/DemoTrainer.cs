using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Optim;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Demo;

/// <summary>Final figures of a demo run.</summary>
public sealed record DemoMetrics(float Top1, float FinalLoss, int Steps, double Seconds);

/// <summary>Settings of the quick-start demo (the README's main job until the full trainer lands).</summary>
public sealed record DemoOptions(int Steps = 300, int BatchSize = 64, float LearningRate = 0.05f, float Momentum = 0.9f, ulong Seed = 0, int EvalBatches = 8);

/// <summary>
/// Trains a small CNN (two conv-ReLU-maxpool stages and a linear classifier) on
/// <see cref="ShapesDataset"/> with SGD + momentum and a cosine schedule: an end-to-end check of
/// autograd, the conv/pool kernels, the nn layers and the optimiser.
/// </summary>
public sealed class DemoTrainer
{
    private readonly DemoOptions _options;
    private readonly Sequential _model;

    public DemoTrainer(DemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Steps < 1 || options.BatchSize < 1 || options.EvalBatches < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"demo: steps, batch size and eval batches must be at least 1, found {options.Steps}, {options.BatchSize}, {options.EvalBatches}");
        _options = options;
        var generator = new Generator(options.Seed);
        int side = ShapesDataset.ImageSize / 4;
        _model = new Sequential(
            new Conv2d(1, 16, 3, padding: 1, generator: generator), Lambda.Relu(), new MaxPool2d(2),
            new Conv2d(16, 32, 3, padding: 1, generator: generator), Lambda.Relu(), new MaxPool2d(2),
            Lambda.Flatten(), new Linear(32 * side * side, ShapesDataset.ClassCount, generator: generator));
    }

    public Module Model => _model;

    public Tensor Forward(Tensor images) => _model.Forward(images);

    /// <summary>Runs the whole schedule; <paramref name="onStep"/>(step, loss) after every step.</summary>
    public DemoMetrics Train(Action<int, float>? onStep = null)
    {
        var data = new ShapesDataset(_options.Seed);
        var optimizer = new Sgd(_model.Parameters(), _options.LearningRate, momentum: _options.Momentum);
        var scheduler = new LearningRateScheduler(optimizer, Schedule.Cosine(_options.Steps));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        float loss = float.NaN;
        _model.Train();
        for (int step = 0; step < _options.Steps; step++)
        {
            using var scope = new TensorScope();
            var (images, labels) = data.Batch(step, _options.BatchSize);
            var lossTensor = F.CrossEntropy(Forward(images), labels);
            loss = lossTensor.Item();
            if (!float.IsFinite(loss))
                throw new InvalidOperationException($"demo: loss became {loss} at step {step}; lower the learning rate (now {_options.LearningRate})");
            optimizer.ZeroGrad();
            lossTensor.Backward();
            optimizer.Step();
            scheduler.Step();
            onStep?.Invoke(step, loss);
        }
        return new DemoMetrics(Evaluate(), loss, _options.Steps, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Top-1 accuracy on held-out batches (indices past the training range).</summary>
    public float Evaluate()
    {
        var data = new ShapesDataset(_options.Seed);
        int correct = 0, total = 0;
        using var noGrad = GradMode.NoGrad();
        _model.Eval();
        for (int b = 0; b < _options.EvalBatches; b++)
        {
            using var scope = new TensorScope();
            var (images, labels) = data.Batch(1_000_000 + b, _options.BatchSize);
            var predicted = Forward(images).Argmax(1).ToArray<long>();
            var truth = labels.ToArray<long>();
            for (int i = 0; i < truth.Length; i++) correct += predicted[i] == truth[i] ? 1 : 0;
            total += truth.Length;
        }
        return (float)correct / total;
    }
}
