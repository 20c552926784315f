namespace Tessera.Models.Data.World;

/// <summary>Everything sampled for a scene before rendering: background parameters and objects.
/// Object 0 is the main object (the nearest and largest).</summary>
public sealed class SceneLayout
{
    public required int Size { get; init; }
    public required int SceneTypeIndex { get; init; }
    public required BackgroundFamily Family { get; init; }
    public required Rgb Primary { get; init; }
    public required Rgb Secondary { get; init; }
    /// <summary>Direction (radians) of gradients and stripes.</summary>
    public float Angle { get; init; }
    /// <summary>Stripe/grid/checker periods per image side.</summary>
    public float Frequency { get; init; }
    /// <summary>Grid line width as a fraction of the period.</summary>
    public float LineWidth { get; init; }
    /// <summary>Horizon row (pixels) for sky/ground; radial-glow centre x,y (fractions) reuse Angle/Frequency.</summary>
    public float Horizon { get; init; }
    public float CenterX { get; init; }
    public float CenterY { get; init; }
    /// <summary>Value-noise lattice, (NoiseCells + 1)^2 values in [0, 1).</summary>
    public float[] NoiseLattice { get; init; } = [];
    public int NoiseCells { get; init; }
    public required SceneObject[] Objects { get; init; }
    public float PixelNoise { get; init; }
    public uint PixelNoiseSeed { get; init; }
    public bool Blur { get; init; }

    public SceneType SceneType => World.SceneTypes.All[SceneTypeIndex];
}
