namespace Tessera.Models.Data.World;

/// <summary>
/// A scene type (the Places-like label): a background family with its own colour scheme and a
/// preference over object shapes, so the type is recognisable from stuff and composition.
/// </summary>
public sealed record SceneType(string Name, BackgroundFamily Family, Rgb Primary, Rgb Secondary, ShapeKind[] FavouredShapes, bool HeldOut = false);

public static class SceneTypes
{
    private static readonly SceneType[] s_all =
    [
        new("studio", BackgroundFamily.Flat, Rgb.FromHex(0xD9D4C7), Rgb.FromHex(0xBFB8A8), [ShapeKind.Circle, ShapeKind.Square, ShapeKind.Heart]),
        new("sunset", BackgroundFamily.Gradient, Rgb.FromHex(0xF2A65A), Rgb.FromHex(0x7B3F8C), [ShapeKind.Star, ShapeKind.Crescent, ShapeKind.Triangle]),
        new("forest", BackgroundFamily.Noise, Rgb.FromHex(0x2E5E2E), Rgb.FromHex(0x7FA650), [ShapeKind.Triangle, ShapeKind.Heart, ShapeKind.Diamond]),
        new("market", BackgroundFamily.Stripes, Rgb.FromHex(0xC9B28F), Rgb.FromHex(0x8F3B2E), [ShapeKind.Hexagon, ShapeKind.Ring, ShapeKind.Square]),
        new("city", BackgroundFamily.Grid, Rgb.FromHex(0x8A8F99), Rgb.FromHex(0x3D424A), [ShapeKind.Square, ShapeKind.Arrow, ShapeKind.Cross]),
        new("beach", BackgroundFamily.SkyGround, Rgb.FromHex(0x87CEEB), Rgb.FromHex(0xE8D5A0), [ShapeKind.Circle, ShapeKind.Star, ShapeKind.Ring]),
        new("meadow", BackgroundFamily.SkyGround, Rgb.FromHex(0x9DC8E8), Rgb.FromHex(0x5C9E3C), [ShapeKind.Heart, ShapeKind.Pentagon, ShapeKind.Diamond]),
        new("night", BackgroundFamily.Gradient, Rgb.FromHex(0x0B1030), Rgb.FromHex(0x2A2F5A), [ShapeKind.Crescent, ShapeKind.Star, ShapeKind.Circle]),
        new("kitchen", BackgroundFamily.Checker, Rgb.FromHex(0xEDEDED), Rgb.FromHex(0x4A6FA5), [ShapeKind.Cross, ShapeKind.Hexagon, ShapeKind.Pentagon], HeldOut: true),
        new("stage", BackgroundFamily.Radial, Rgb.FromHex(0xFFE9A8), Rgb.FromHex(0x301018), [ShapeKind.Star, ShapeKind.Heart, ShapeKind.Arrow], HeldOut: true),
    ];

    /// <summary>All types; the first <see cref="TrainingCount"/> are used by pre-training sources.</summary>
    public static IReadOnlyList<SceneType> All => s_all;

    public const int TrainingCount = 8;

    public static int IndexOf(string name) => Array.FindIndex(s_all, t => t.Name == name);
}
