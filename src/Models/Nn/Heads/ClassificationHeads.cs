using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn.Heads;

/// <summary>
/// Classification head: global average pool of a [B, C, H, W] map (or a [B, C] vector as is),
/// optional dropout, then "fc" → logits [B, numClasses].
/// </summary>
public class ClassificationHead : Layer
{
    public ClassificationHead(int inChannels, int numClasses, float dropout = 0f, Generator? generator = null)
    {
        Drop = RegisterModule("drop", new Dropout(dropout, generator));
        Fc = RegisterModule("fc", new Linear(inChannels, numClasses, generator: generator));
    }

    public Dropout Drop { get; }
    public Linear Fc { get; }

    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var pooled = input.Rank switch
        {
            4 => Functional.GlobalAvgPool2d(input).Flatten(1),
            2 => input,
            _ => throw new TensorShapeException($"{GetType().Name}: expected a map [B, C, H, W] or features [B, C], found {Shapes.Format(input.Shape)}", nameof(input)),
        };
        return Fc.Forward(Drop.Forward(pooled));
    }
}

/// <summary>
/// Multi-label head: the same pooling and linear layer, giving one independent logit per label;
/// <see cref="Loss"/> is binary cross-entropy with logits against 0/1 targets.
/// </summary>
public sealed class MultiLabelHead : ClassificationHead
{
    public MultiLabelHead(int inChannels, int numLabels, float dropout = 0f, Generator? generator = null)
        : base(inChannels, numLabels, dropout, generator)
    {
    }

    /// <summary>Mean BCE-with-logits of logits [B, L] against targets [B, L] in {0, 1} (optional per-label positive weights [L]).</summary>
    public static Tensor Loss(Tensor logits, Tensor targets, Tensor? positiveWeight = null) =>
        Functional.BinaryCrossEntropyWithLogits(logits, targets, posWeight: positiveWeight);

    /// <summary>Per-label probabilities sigmoid(logits).</summary>
    public static Tensor Probabilities(Tensor logits) => Functional.Sigmoid(logits);
}
