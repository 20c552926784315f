using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Objectives;

/// <summary>
/// MoCo's sample-contrastive loss (He et al., v2 settings): queries from the online encoder,
/// keys from a momentum encoder (<see cref="MomentumTeacher{TModule}"/>), negatives from a FIFO
/// queue of earlier keys. loss = CE([q·k⁺, q·Q] / τ, class 0) with q, k L2-normalised; after each
/// step the keys are enqueued (<see cref="Enqueue"/>). The queue starts full of random unit
/// vectors, as MoCo's does. INTERN's multi-stage fine-tuning adds this to the task loss.
/// </summary>
public sealed class MocoContrast
{
    public MocoContrast(int queueSize, int dim, float temperature = 0.2f, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueSize, 1);
        if (!(temperature > 0f) || !float.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, $"MocoContrast: 'temperature' expected a finite value > 0, found {temperature}");
        Temperature = temperature;
        Queue = new FeatureQueue(queueSize, dim);
        using (GradMode.NoGrad())
            Queue.Enqueue(F.Normalize(Tensor.Randn([queueSize, dim], generator ?? Generator.Default), 1));
    }

    public float Temperature { get; }

    /// <summary>The negatives (unit rows).</summary>
    public FeatureQueue Queue { get; }

    /// <summary>queries [B, D] (with gradient), keys [B, D] (detached by this call) → the InfoNCE loss against the queue.</summary>
    public Tensor Loss(Tensor queries, Tensor keys)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(keys);
        if (queries.Rank != 2 || !queries.Shape.SequenceEqual(keys.Shape) || queries.Size(1) != Queue.Dim)
            throw new TensorShapeException($"MocoContrast: expected queries and keys [B, {Queue.Dim}] of one shape, found {Shapes.Format(queries.Shape)} and {Shapes.Format(keys.Shape)}", nameof(keys));
        if (queries.Size(0) > Queue.Capacity)
            throw new ArgumentException($"MocoContrast: the queue ({Queue.Capacity}) is shorter than the batch ({queries.Size(0)}); expected a queue at least as long as a batch", nameof(queries));
        var q = F.Normalize(queries, 1);
        var k = F.Normalize(keys.Detach(), 1);
        var positive = (q * k).Sum(1, keepDim: true); // [B, 1]
        var negative = q.Matmul(Queue.Features().To(q.Device).Transpose(0, 1)); // [B, K]
        var logits = F.Cat([positive, negative], 1) * (1f / Temperature);
        var targets = Tensor.Zeros([queries.Size(0)], DType.Int64, queries.Device);
        return F.CrossEntropy(logits, targets);
    }

    /// <summary>Pushes this step's keys (normalised, detached) into the queue.</summary>
    public void Enqueue(Tensor keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        using var noGrad = GradMode.NoGrad();
        Queue.Enqueue(F.Normalize(keys.Detach(), 1));
    }
}
