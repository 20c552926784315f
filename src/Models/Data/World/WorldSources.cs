namespace Tessera.Models.Data.World;

/// <summary>
/// The registry of named sources: the ten pre-training sources of the spec's table, and the
/// held-out downstream suites (shifted palettes, background families and shape/texture pairs).
/// </summary>
public static class WorldSources
{
    private static readonly int[] s_trainingScenes = [0, 1, 2, 3, 4, 5, 6, 7];
    private static readonly int[] s_heldOutScenes = [8, 9];

    /// <summary>Pre-training sources, in the spec's order.</summary>
    public static IReadOnlyList<WorldSource> Sources { get; } =
    [
        new("shapes-cls", "ImageNet", WorldTask.Classification,
            new WorldDomain { MinObjects = 1, MaxObjects = 1, MinScale = 0.22f, MaxScale = 0.38f, CentredMain = true, Noise = 0.02f, Palettes = [PaletteKind.Vivid, PaletteKind.Muted] },
            "one centred object per image over varied backgrounds; label = shape (12)"),
        new("scenes-cls", "Places", WorldTask.Classification,
            new WorldDomain { MinObjects = 2, MaxObjects = 5, MinScale = 0.07f, MaxScale = 0.16f, FavouredShapeBias = 0.8f, Noise = 0.02f, Palettes = [PaletteKind.Earth, PaletteKind.Vivid] },
            "compositions over stuff; label = scene type (8)") { ClassLabel = ClassLabelKind.SceneType },
        new("fine-cls", "iNat / Cars / Dogs", WorldTask.Classification,
            new WorldDomain
            {
                MinObjects = 1, MaxObjects = 1, MinScale = 0.34f, MaxScale = 0.42f, CentredMain = true, MaxAspect = 1.15f,
                SceneTypes = [0, 1], Shapes = [ShapeKind.Hexagon, ShapeKind.Pentagon, ShapeKind.Circle, ShapeKind.Diamond],
                Textures = [TextureKind.Solid, TextureKind.Stripes, TextureKind.Dots, TextureKind.Checker], Colours = [0, 1, 7, 6],
                Combinations = CombinationRule.Any, Palettes = [PaletteKind.Vivid],
            },
            "close-ups with subtle cues; label = colour x texture x shape over similar hues and polygons (64)") { ClassLabel = ClassLabelKind.Fine },
        new("objects-det", "COCO", WorldTask.Detection,
            new WorldDomain { MinObjects = 2, MaxObjects = 6, MinScale = 0.07f, MaxScale = 0.18f, Noise = 0.03f, Palettes = [PaletteKind.Vivid, PaletteKind.Earth] },
            "2-6 mid-size objects; boxes over 12 shape categories"),
        new("dense-det", "Objects365 / WIDER FACE", WorldTask.Detection,
            new WorldDomain { MinObjects = 8, MaxObjects = 20, MinScale = 0.03f, MaxScale = 0.065f, Noise = 0.04f, Blur = true, SceneTypes = [0, 2, 4, 7], Palettes = [PaletteKind.Muted] },
            "many small objects, blurred and noisy"),
        new("parts-seg", "ADE20K", WorldTask.Segmentation,
            new WorldDomain { MinObjects = 3, MaxObjects = 6, MinScale = 0.09f, MaxScale = 0.22f, Noise = 0.01f, Palettes = [PaletteKind.Earth, PaletteKind.Pastel] },
            "objects and stuff; 12 object + 9 stuff classes"),
        new("stuff-seg", "COCO-Stuff", WorldTask.Segmentation,
            new WorldDomain { MinObjects = 1, MaxObjects = 3, MinScale = 0.05f, MaxScale = 0.12f, SceneTypes = [0, 1, 2, 3, 4, 5, 5, 6, 6], Palettes = [PaletteKind.Pastel], Blur = true },
            "backgrounds; 9 stuff classes + 'thing'") { Segmentation = SegmentationLabels.StuffOnly },
        new("depth", "KITTI / NYU", WorldTask.Depth,
            new WorldDomain { MinObjects = 3, MaxObjects = 7, MinScale = 0.1f, MaxScale = 0.2f, Perspective = true, SceneTypes = [4, 5, 6], Palettes = [PaletteKind.Dark, PaletteKind.Muted], Noise = 0.02f },
            "layered scenes with perspective; per-pixel depth (background plane up to 10, objects 1-8)"),
        new("captions", "LAION / YFCC", WorldTask.Captioning,
            new WorldDomain { MinObjects = 1, MaxObjects = 3, MinScale = 0.1f, MaxScale = 0.3f, Noise = 0.02f, Palettes = [PaletteKind.Vivid, PaletteKind.Pastel, PaletteKind.Earth, PaletteKind.Muted] },
            "everything, with template captions"),
        new("tags", "Tencent-ML-Images", WorldTask.MultiLabel,
            new WorldDomain { MinObjects = 1, MaxObjects = 6, MinScale = 0.06f, MaxScale = 0.2f, TagNoise = 0.15f, Blur = true, Noise = 0.03f, Palettes = [PaletteKind.Vivid, PaletteKind.Dark, PaletteKind.Muted] },
            "noisy multi-label tags over 12 shapes (15% tag noise)"),
    ];

    private static Dictionary<string, int> Splits(int train, int test) => new() { ["train"] = train, ["train10"] = train, ["test"] = test };

    /// <summary>Held-out downstream suites: each has "train" (100%), "train10" (10% per class) and a fixed "test" split.</summary>
    public static IReadOnlyList<WorldSource> Suites { get; } =
    [
        new("down-shapes", "held-out classification", WorldTask.Classification,
            new WorldDomain { MinObjects = 1, MaxObjects = 2, MinScale = 0.2f, MaxScale = 0.34f, CentredMain = true, SceneTypes = s_heldOutScenes, Palettes = [PaletteKind.Neon], Combinations = CombinationRule.Any, Noise = 0.03f },
            "shape classification in new rooms (checker floor, radial glow) and the neon palette")
        { SplitSizes = Splits(1200, 600) },
        new("down-textures", "held-out classification", WorldTask.Classification,
            new WorldDomain
            {
                MinObjects = 1, MaxObjects = 1, MinScale = 0.28f, MaxScale = 0.4f, CentredMain = true, SceneTypes = [0, 1, 8],
                Textures = [TextureKind.Stripes, TextureKind.Dots, TextureKind.Checker, TextureKind.Gradient], Combinations = CombinationRule.UnseenMain,
                Palettes = [PaletteKind.Neon, PaletteKind.Pastel],
            },
            "texture classification on shape/texture pairs no pre-training source draws") { ClassLabel = ClassLabelKind.Texture, SplitSizes = Splits(800, 400) },
        new("down-colours", "held-out classification", WorldTask.Classification,
            new WorldDomain { MinObjects = 1, MaxObjects = 3, MinScale = 0.15f, MaxScale = 0.3f, CentredMain = true, SceneTypes = s_heldOutScenes, Palettes = [PaletteKind.Neon], Blur = true },
            "colour naming under the neon palette") { ClassLabel = ClassLabelKind.Colour, SplitSizes = Splits(1200, 600) },
        new("down-det", "held-out detection", WorldTask.Detection,
            new WorldDomain { MinObjects = 2, MaxObjects = 5, MinScale = 0.07f, MaxScale = 0.17f, SceneTypes = s_heldOutScenes, Palettes = [PaletteKind.Neon], Combinations = CombinationRule.UnseenMain, Noise = 0.02f },
            "detection in new rooms with unseen shape/texture pairs") { SplitSizes = Splits(1000, 300) },
        new("down-seg", "held-out segmentation", WorldTask.Segmentation,
            new WorldDomain { MinObjects = 2, MaxObjects = 5, MinScale = 0.09f, MaxScale = 0.2f, SceneTypes = s_heldOutScenes, Palettes = [PaletteKind.Neon, PaletteKind.Pastel], Combinations = CombinationRule.Any },
            "segmentation with new stuff classes (floor, glow)") { SplitSizes = Splits(1000, 300) },
        new("down-depth", "held-out depth", WorldTask.Depth,
            new WorldDomain { MinObjects = 3, MaxObjects = 6, MinScale = 0.1f, MaxScale = 0.2f, Perspective = true, SceneTypes = s_heldOutScenes, Palettes = [PaletteKind.Neon] },
            "depth in new rooms") { SplitSizes = Splits(1000, 300) },
    ];

    public static IEnumerable<WorldSource> All => Sources.Concat(Suites);

    /// <summary>
    /// A multi-label source with another tag-noise rate: same name, so the same scenes (pixels,
    /// objects, clean tags) as the original; only the noisy tags differ. For noisy-label studies.
    /// </summary>
    public static WorldSource WithTagNoise(WorldSource source, float noise)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Task != WorldTask.MultiLabel)
            throw new ArgumentException($"tag noise: source '{source.Name}' is a {source.Task} source; expected a multi-label source (tags)", nameof(source));
        if (!(noise >= 0f && noise < 1f))
            throw new ArgumentOutOfRangeException(nameof(noise), noise, $"tag noise: expected a rate in [0, 1), found {noise}");
        return source with { Domain = source.Domain with { TagNoise = noise } };
    }

    /// <summary>The source or suite of that name; an unknown name lists the valid ones.</summary>
    public static WorldSource Get(string name)
    {
        foreach (var source in All)
            if (source.Name == name) return source;
        throw new ArgumentException($"unknown data source '{name}'; valid sources: {string.Join(", ", Sources.Select(s => s.Name))}; " +
                                    $"downstream suites: {string.Join(", ", Suites.Select(s => s.Name))}; real data: mnist, fashion-mnist");
    }
}
