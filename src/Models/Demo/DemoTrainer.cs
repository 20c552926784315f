using Tessera.Autograd;
using Tessera.Engine.Random;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Demo;

/// <summary>Final figures of a demo run.</summary>
public sealed record DemoMetrics(float Top1, float FinalLoss, int Steps, double Seconds);

/// <summary>Settings of the quick-start demo (the README's main job until the full trainer lands).</summary>
public sealed record DemoOptions(int Steps = 300, int BatchSize = 64, float LearningRate = 0.05f, float Momentum = 0.9f, ulong Seed = 0, int EvalBatches = 8);

/// <summary>
/// Trains a two-layer MLP on <see cref="ShapesDataset"/> with SGD + momentum, written against the
/// raw Tensor/Functional API so it doubles as an end-to-end check of autograd and the CPU ops.
/// </summary>
public sealed class DemoTrainer
{
    private const int Hidden = 128;
    private readonly DemoOptions _options;
    private readonly Tensor[] _parameters;
    private readonly Tensor[] _velocity;

    public DemoTrainer(DemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Steps < 1 || options.BatchSize < 1 || options.EvalBatches < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"demo: steps, batch size and eval batches must be at least 1, found {options.Steps}, {options.BatchSize}, {options.EvalBatches}");
        _options = options;
        var generator = new Generator(options.Seed);
        int inputs = ShapesDataset.ImageSize * ShapesDataset.ImageSize;
        // Kaiming-normal init for the ReLU layer, small init for the classifier.
        _parameters =
        [
            (Tensor.Randn([Hidden, inputs], generator) * MathF.Sqrt(2f / inputs)).RequireGrad(),
            Tensor.Zeros(Hidden).RequireGrad(),
            (Tensor.Randn([ShapesDataset.ClassCount, Hidden], generator) * MathF.Sqrt(1f / Hidden)).RequireGrad(),
            Tensor.Zeros(ShapesDataset.ClassCount).RequireGrad(),
        ];
        _velocity = _parameters.Select(Tensor.ZerosLike).ToArray();
    }

    public Tensor Forward(Tensor images)
    {
        var x = images.Flatten(1);
        var hidden = F.Relu(F.Linear(x, _parameters[0], _parameters[1]));
        return F.Linear(hidden, _parameters[2], _parameters[3]);
    }

    /// <summary>Mean cross-entropy of logits [batch, classes] against int64 labels [batch].</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels)
    {
        var oneHot = F.Equal(Tensor.Arange(logits.Size(1)).Unsqueeze(0), labels.ToFloat().Unsqueeze(1)).ToFloat();
        var picked = F.Sum(logits * oneHot, [1]);
        return F.Mean(F.LogSumExp(logits, [1]) - picked);
    }

    /// <summary>Runs the whole schedule; <paramref name="onStep"/>(step, loss) after every step.</summary>
    public DemoMetrics Train(Action<int, float>? onStep = null)
    {
        var data = new ShapesDataset(_options.Seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        float loss = float.NaN;
        for (int step = 0; step < _options.Steps; step++)
        {
            using var scope = new TensorScope();
            var (images, labels) = data.Batch(step, _options.BatchSize);
            var lossTensor = CrossEntropy(Forward(images), labels);
            loss = lossTensor.Item();
            if (!float.IsFinite(loss))
                throw new InvalidOperationException($"demo: loss became {loss} at step {step}; lower the learning rate (now {_options.LearningRate})");
            lossTensor.Backward();
            using (GradMode.NoGrad())
            {
                float lr = _options.LearningRate * 0.5f * (1f + MathF.Cos(MathF.PI * step / _options.Steps));
                for (int i = 0; i < _parameters.Length; i++)
                {
                    _velocity[i].MulInPlace(_options.Momentum).AddInPlace(_parameters[i].Grad!);
                    _parameters[i].AddInPlace(_velocity[i], -lr);
                    _parameters[i].Grad = null;
                }
            }
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
