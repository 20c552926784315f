namespace Tessera.Models.Systems.Intern;

/// <summary>The three task types INTERN's experts and Up-G branches cover (image-wise, patch-wise, pixel-wise).</summary>
public enum TaskType
{
    Classification,
    Detection,
    Segmentation,
}

/// <summary>One upstream source of an expert: the world source, its task type and its nominal size (sampling weight).</summary>
/// <param name="Source">A world source name (shapes-cls, objects-det, ...).</param>
/// <param name="Type">Its task type (which expert / branch trains on it).</param>
/// <param name="Size">Nominal number of images: the size of the real data set the source stands in for
/// (the world's streams are unbounded, so "sampled in proportion to size" needs a size; ours is the real one's).</param>
public sealed record InternSource(string Source, TaskType Type, long Size);

/// <summary>
/// Scale and hyper-parameters of one INTERN pipeline. Steps count optimiser updates. Every stage
/// uses AdamW with warm-up + cosine. Defaults are the experiment's reported scale (see
/// <see cref="InternExperiment.Scale"/>); recipes override them.
/// </summary>
public sealed record InternSettings
{
    public MetaNetOptions Backbone { get; init; } = new();

    /// <summary>Image side in pixels.</summary>
    public int Size { get; init; } = 32;

    /// <summary>Upstream images per step (Up-A pairs; Up-E/Up-G images per virtual device).</summary>
    public int Batch { get; init; } = 24;

    /// <summary>Detection sources' images per device (Faster R-CNN-lite is the costly head).</summary>
    public int DetectionBatch { get; init; } = 8;

    /// <summary>FPN / dense-head width.</summary>
    public int HeadWidth { get; init; } = 16;

    /// <summary>Up-A-G steps (the supervised baseline gets as many).</summary>
    public int UpASteps { get; init; } = 200;

    /// <summary>Up-A-L steps (FPN + region BYOL head on the frozen Up-A backbone).</summary>
    public int UpALSteps { get; init; } = 60;

    /// <summary>Steps of each Up-E expert.</summary>
    public int ExpertSteps { get; init; } = 120;

    /// <summary>Up-G steps (with and without KTMs).</summary>
    public int GeneralistSteps { get; init; } = 120;

    /// <summary>SIMT virtual devices of Up-E / Up-G (each samples one source per step; SyncBN across them).</summary>
    public int Devices { get; init; } = 2;

    public float LearningRate { get; init; } = 3e-3f;

    public float WeightDecay { get; init; } = 1e-4f;

    public int Warmup { get; init; } = 10;

    /// <summary>Text tower width (the image embedding is projected to it).</summary>
    public int TextWidth { get; init; } = 32;

    /// <summary>Text tower context (tokens, begin and end included); every caption must fit.</summary>
    public int ContextLength { get; init; } = 18;

    /// <summary>Text feature queue of STS (FIFO), at least the batch.</summary>
    public int QueueSize { get; init; } = 96;

    /// <summary>Loss-spike guard: a step whose loss exceeds SpikeRatio x the running mean (EMA 0.9) is skipped and the weights of 10 steps earlier restored.</summary>
    public double SpikeRatio { get; init; } = 3.0;

    /// <summary>Seed of initialisation and data order.</summary>
    public ulong Seed { get; init; }

    /// <summary>Checks the settings; the error names the recipe field, what was expected and what was found.</summary>
    public void Validate()
    {
        Backbone.Validate("model");
        if (Size < 32) throw new ArgumentOutOfRangeException(nameof(Size), Size, $"intern: 'size' expected at least 32 pixels, found {Size}");
        if (Batch < 2) throw new ArgumentOutOfRangeException(nameof(Batch), Batch, $"intern: 'batch' expected at least 2 (contrastive pairs), found {Batch}");
        if (DetectionBatch < 1) throw new ArgumentOutOfRangeException(nameof(DetectionBatch), DetectionBatch, $"intern: detection batch expected at least 1, found {DetectionBatch}");
        if (QueueSize < Batch)
            throw new ArgumentOutOfRangeException(nameof(QueueSize), QueueSize, $"intern: 'intern.queue_size' expected at least the batch ({Batch}) so STS can hold a whole batch of text features, found {QueueSize}");
        if (Devices < 1) throw new ArgumentOutOfRangeException(nameof(Devices), Devices, $"intern: 'devices' expected at least 1, found {Devices}");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, $"intern: 'optimizer.lr' expected > 0, found {LearningRate}");
        if (!(SpikeRatio > 1)) throw new ArgumentOutOfRangeException(nameof(SpikeRatio), SpikeRatio, $"intern: 'intern.spike_ratio' expected > 1, found {SpikeRatio}");
        if (UpASteps < 1 || ExpertSteps < 1 || GeneralistSteps < 1 || UpALSteps < 0)
            throw new ArgumentOutOfRangeException(nameof(UpASteps), $"intern: stage steps expected at least 1, found up-a {UpASteps}, expert {ExpertSteps}, generalist {GeneralistSteps}, up-a-l {UpALSteps}");
    }

    /// <summary>The upstream sources of the experts and Up-G (sizes of the data sets they stand in for).</summary>
    public static IReadOnlyList<InternSource> DefaultSources { get; } =
    [
        new("shapes-cls", TaskType.Classification, 1_281_167),   // ImageNet-1k
        new("fine-cls", TaskType.Classification, 500_000),       // iNat 2021 mini
        new("scenes-cls", TaskType.Classification, 1_803_460),   // Places365
        new("objects-det", TaskType.Detection, 118_287),         // COCO train2017
        new("dense-det", TaskType.Detection, 1_742_289),         // Objects365
        new("parts-seg", TaskType.Segmentation, 20_210),         // ADE20K
        new("stuff-seg", TaskType.Segmentation, 118_287),        // COCO-Stuff
    ];
}
