using System.Text.Json.Serialization;

namespace Tessera.Models.Recipes;

/// <summary>
/// A training recipe: the JSON files in <c>recipes/</c> (snake_case keys). Every field can be
/// overridden on the command line as <c>key=value</c> with dotted paths
/// (<c>optimizer.lr=0.1</c>, <c>tasks.0.weight=2</c>).
/// </summary>
public sealed partial class Recipe
{
    public string Name { get; set; } = "";

    public string Description { get; set; } = "";

    /// <summary>Optimiser steps.</summary>
    public int Steps { get; set; } = 100;

    /// <summary>Default images per device per step (a task's own "batch" wins).</summary>
    public int Batch { get; set; } = 32;

    /// <summary>Default input size in pixels (a task's own "size" wins).</summary>
    public int Size { get; set; } = 16;

    public ulong Seed { get; set; }

    /// <summary>SIMT virtual devices V (1: plain training).</summary>
    public int Devices { get; set; } = 1;

    /// <summary>"stop" or "skip" on NaN/Inf loss or gradients.</summary>
    public string Nonfinite { get; set; } = "stop";

    /// <summary>Clip the gradients' joint L2 norm (0: off).</summary>
    public float ClipNorm { get; set; }

    /// <summary>Write a checkpoint every this many steps (0: only at the end).</summary>
    public int CheckpointEvery { get; set; } = 100;

    /// <summary>Test batches per task for the final metrics.</summary>
    public int EvalBatches { get; set; } = 8;

    public ModelSpec Model { get; set; } = new();

    public OptimizerSpec Optimizer { get; set; } = new();

    public ScheduleSpec Schedule { get; set; } = new();

    public List<TaskSpec> Tasks { get; set; } = [];
}

/// <summary>The backbone: a catalog name and its settings.</summary>
public sealed class ModelSpec
{
    public string Type { get; set; } = "small-cnn";

    public int Width { get; set; } = 16;

    public bool BatchNorm { get; set; }

    /// <summary>Convs per stage ("small-cnn") or residual blocks per stage ("resnet-narrow").</summary>
    public int Depth { get; set; } = 1;

    /// <summary>Channels inside dense and detection heads (FPN width).</summary>
    public int HeadWidth { get; set; } = 32;

    /// <summary>GPPF ("gppf-resnet"): units N per lego layer (1: static hard sharing).</summary>
    public int Units { get; set; } = 1;

    /// <summary>GPPF: training routing, "soft" (all units, weighted) or "hard" (straight-through, one unit).</summary>
    public string Routing { get; set; } = "soft";

    /// <summary>GPPF ablation: the backbone's batch norms use each device's own batch instead of cross-task SyncBN.</summary>
    public bool LocalBn { get; set; }

    /// <summary>GPPF: routing logits = route_scale · θ (a learning-rate multiplier for the controllers under Adam).</summary>
    public float RouteScale { get; set; } = 1f;
}

/// <summary>"sgd" (momentum, nesterov) or "adamw" (beta1, beta2).</summary>
public sealed class OptimizerSpec
{
    public string Type { get; set; } = "sgd";

    public float Lr { get; set; } = 0.05f;

    public float Momentum { get; set; } = 0.9f;

    public bool Nesterov { get; set; }

    public float WeightDecay { get; set; }

    public float Beta1 { get; set; } = 0.9f;

    public float Beta2 { get; set; } = 0.999f;
}

/// <summary>"constant", "cosine" or "linear" (to 0), after an optional linear warmup.</summary>
public sealed class ScheduleSpec
{
    public string Type { get; set; } = "cosine";

    public int Warmup { get; set; }
}

/// <summary>One task: a source from the catalog, a head, its sampling weight and batch geometry.</summary>
public sealed class TaskSpec
{
    public string Name { get; set; } = "";

    public string Source { get; set; } = "";

    public string Head { get; set; } = "classification";

    /// <summary>Sampling weight (the probability a device picks this task is weight / Σ weights).</summary>
    public double Weight { get; set; } = 1;

    /// <summary>Loss weight (1 in GPPF).</summary>
    public double LossWeight { get; set; } = 1;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? Batch { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? Size { get; set; }

    /// <summary>The folder a file-reading source reads ("image-folder"); absent for generated sources.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Data { get; set; }
}
