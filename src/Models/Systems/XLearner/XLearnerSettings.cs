namespace Tessera.Models.Systems.XLearner;

/// <summary>
/// Scale and hyper-parameters of one X-Learner pipeline (every arm of the experiment uses the same).
/// Steps count optimiser updates; each update sees one batch of every source (Eq. 1).
/// </summary>
public sealed record XLearnerSettings
{
    /// <summary>Stem width of a sub-backbone and of the student (stages width, 2·width, 4·width).</summary>
    public int Width { get; init; } = 16;

    /// <summary>Basic blocks per stage.</summary>
    public int Depth { get; init; } = 1;

    /// <summary>FPN width of detection / dense heads.</summary>
    public int HeadWidth { get; init; } = 32;

    /// <summary>Input size in pixels.</summary>
    public int Size { get; init; } = 48;

    /// <summary>K: expansion-stage steps (alone + joint); hard-sharing trains this many steps too.</summary>
    public int ExpansionSteps { get; init; } = 300;

    /// <summary>tau: the first tau expansion steps train each sub-backbone alone on its group's sources.</summary>
    public int Tau { get; init; } = 100;

    /// <summary>Squeeze-stage steps (distillation, or pruning + fine-tuning for X-Learner_p).</summary>
    public int SqueezeSteps { get; init; } = 150;

    /// <summary>AdamW learning rate (cosine decay with warm-up, per stage).</summary>
    public float LearningRate { get; init; } = 3e-3f;

    /// <summary>AdamW weight decay (the paper's 1e-4).</summary>
    public float WeightDecay { get; init; } = 1e-4f;

    /// <summary>Warm-up steps at the start of each stage.</summary>
    public int Warmup { get; init; } = 20;

    /// <summary>Test batches per source for upstream metrics.</summary>
    public int EvalBatches { get; init; } = 8;

    /// <summary>Levels (0-based map indices) the squeeze hints; every level by default.</summary>
    public IReadOnlyList<int> HintLevels { get; init; } = [0, 1, 2];

    /// <summary>X-Learner_p: pruning rounds (gradual magnitude pruning, Zhu and Gupta's cubic schedule).</summary>
    public int PruneRounds { get; init; } = 5;

    /// <summary>Seed of initialisation and data order.</summary>
    public ulong Seed { get; init; }

    /// <summary>Checks the settings; throws an ArgumentException naming the field.</summary>
    public void Validate()
    {
        if (Width < 2) throw new ArgumentOutOfRangeException(nameof(Width), Width, "xlearner: 'width' expected at least 2");
        if (Depth < 1) throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "xlearner: 'depth' expected at least 1");
        if (Size < 32) throw new ArgumentOutOfRangeException(nameof(Size), Size, "xlearner: 'size' expected at least 32 pixels (the world renders 32..256)");
        if (ExpansionSteps < 1) throw new ArgumentOutOfRangeException(nameof(ExpansionSteps), ExpansionSteps, "xlearner: 'steps' (expansion steps K) expected at least 1");
        if (Tau < 0 || Tau > ExpansionSteps)
            throw new ArgumentOutOfRangeException(nameof(Tau), Tau, $"xlearner: 'tau' expected in 0..{ExpansionSteps} (the expansion steps K)");
        if (SqueezeSteps < 1) throw new ArgumentOutOfRangeException(nameof(SqueezeSteps), SqueezeSteps, "xlearner: 'squeeze_steps' expected at least 1");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "xlearner: learning rate expected > 0");
        if (HintLevels.Count == 0 || HintLevels.Any(l => l < 0 || l > 2))
            throw new ArgumentOutOfRangeException(nameof(HintLevels), $"xlearner: hint levels expected in 0..2, found [{string.Join(", ", HintLevels)}]");
        if (PruneRounds < 1) throw new ArgumentOutOfRangeException(nameof(PruneRounds), PruneRounds, "xlearner: 'prune_rounds' expected at least 1");
    }
}
