namespace Tessera.Models.Data.World;

/// <summary>Which shape/texture pairs a domain may draw (see <see cref="Textures.IsHeldOutCombination"/>).</summary>
public enum CombinationRule
{
    /// <summary>Pre-training sources: never the held-out pairs.</summary>
    SeenOnly,
    /// <summary>Any pair.</summary>
    Any,
    /// <summary>Held-out suites: the main object always uses a held-out pair.</summary>
    UnseenMain,
}

/// <summary>
/// The distribution over scenes of one source: palettes, scene types (hence background families),
/// object count and scale, attribute subsets, and image degradations. Differences between sources'
/// domains are what make multi-source learning meet conflicts.
/// </summary>
public sealed record WorldDomain
{
    public PaletteKind[] Palettes { get; init; } = [PaletteKind.Vivid];
    /// <summary>Indices into <see cref="SceneTypes.All"/>.</summary>
    public int[] SceneTypes { get; init; } = [0, 1, 2, 3, 4, 5, 6, 7];
    public int MinObjects { get; init; } = 1;
    public int MaxObjects { get; init; } = 4;
    /// <summary>Object radius as a fraction of the image side.</summary>
    public float MinScale { get; init; } = 0.08f;
    public float MaxScale { get; init; } = 0.2f;
    /// <summary>The main object sits near the centre (classification close-ups).</summary>
    public bool CentredMain { get; init; }
    /// <summary>Radius shrinks with depth (layered depth scenes).</summary>
    public bool Perspective { get; init; }
    public ShapeKind[]? Shapes { get; init; }
    public TextureKind[]? Textures { get; init; }
    /// <summary>Colour indices (into <see cref="Palettes.Names"/>); all when null.</summary>
    public int[]? Colours { get; init; }
    public CombinationRule Combinations { get; init; } = CombinationRule.SeenOnly;
    public float MaxAspect { get; init; } = 1.4f;
    /// <summary>Standard deviation of the per-pixel noise (image units, 0..1).</summary>
    public float Noise { get; init; }
    /// <summary>A 3x3 binomial blur after rendering.</summary>
    public bool Blur { get; init; }
    /// <summary>Probability of dropping each present tag (absent tags are added at a matching rate).</summary>
    public float TagNoise { get; init; }
    /// <summary>Chance that an object uses its scene type's favoured shapes rather than any shape.</summary>
    public float FavouredShapeBias { get; init; } = 0.5f;
}
