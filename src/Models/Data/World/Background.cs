namespace Tessera.Models.Data.World;

/// <summary>Background families. Each paints one or two "stuff" classes of the semantic map.</summary>
public enum BackgroundFamily
{
    Flat,
    Gradient,
    Noise,
    Stripes,
    Grid,
    SkyGround,
    /// <summary>Held out (downstream suites only).</summary>
    Checker,
    /// <summary>Held out (downstream suites only).</summary>
    Radial,
}

/// <summary>Stuff classes: the semantic labels of background pixels (after the object classes in a semantic map).</summary>
public static class StuffClasses
{
    public const int Count = 9;
    public const int Sky = 5;
    public const int Ground = 6;

    private static readonly string[] s_names = ["wall", "haze", "foliage", "fabric", "tiles", "sky", "ground", "floor", "glow"];

    public static IReadOnlyList<string> Names => s_names;

    /// <summary>The stuff class of a family (for <see cref="BackgroundFamily.SkyGround"/>, the sky; its lower part is <see cref="Ground"/>).</summary>
    public static int Of(BackgroundFamily family) => family switch
    {
        BackgroundFamily.Flat => 0,
        BackgroundFamily.Gradient => 1,
        BackgroundFamily.Noise => 2,
        BackgroundFamily.Stripes => 3,
        BackgroundFamily.Grid => 4,
        BackgroundFamily.SkyGround => Sky,
        BackgroundFamily.Checker => 7,
        BackgroundFamily.Radial => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };
}

/// <summary>Object surface textures.</summary>
public enum TextureKind
{
    Solid,
    Stripes,
    Dots,
    Checker,
    Gradient,
}

public static class Textures
{
    public const int Count = 5;

    private static readonly string[] s_names = ["solid", "striped", "dotted", "checkered", "shaded"];

    /// <summary>Adjectives in label order ("solid", "striped", ...).</summary>
    public static IReadOnlyList<string> Names => s_names;

    /// <summary>
    /// Shape/texture pairs that training sources never draw and held-out suites favour, so a
    /// downstream suite meets combinations no pre-training source showed.
    /// </summary>
    public static bool IsHeldOutCombination(ShapeKind shape, TextureKind texture) =>
        texture != TextureKind.Solid && ((int)shape * 3 + (int)texture) % 7 == 0;
}
