namespace Tessera.Models.Data.World;

/// <summary>A colour in linear [0, 1] RGB.</summary>
public readonly record struct Rgb(float R, float G, float B)
{
    public static Rgb Lerp(Rgb a, Rgb b, float t) => new(a.R + (b.R - a.R) * t, a.G + (b.G - a.G) * t, a.B + (b.B - a.B) * t);

    public Rgb Scale(float factor) => new(Math.Clamp(R * factor, 0f, 1f), Math.Clamp(G * factor, 0f, 1f), Math.Clamp(B * factor, 0f, 1f));

    public float Luminance => 0.299f * R + 0.587f * G + 0.114f * B;

    public static Rgb FromHex(int hex) => new(((hex >> 16) & 255) / 255f, ((hex >> 8) & 255) / 255f, (hex & 255) / 255f);
}

/// <summary>Named palettes. Every palette has the same twelve colour names (so captions and colour labels
/// mean the same thing everywhere) but different shades: a source's palette is part of its domain.</summary>
public enum PaletteKind
{
    Vivid,
    Pastel,
    Muted,
    Earth,
    Dark,
    /// <summary>Held out: only downstream suites use it.</summary>
    Neon,
}

public static class Palettes
{
    public const int ColourCount = 12;

    private static readonly string[] s_names = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "white", "black", "grey", "brown"];

    private static readonly int[][] s_hex =
    [
        [0xE53935, 0xFB8C00, 0xFDD835, 0x43A047, 0x00ACC1, 0x1E88E5, 0x8E24AA, 0xEC407A, 0xFAFAFA, 0x212121, 0x9E9E9E, 0x795548], // vivid
        [0xEF9A9A, 0xFFCC80, 0xFFF59D, 0xA5D6A7, 0x80DEEA, 0x90CAF9, 0xCE93D8, 0xF8BBD0, 0xFFFFFF, 0x424242, 0xBDBDBD, 0xBCAAA4], // pastel
        [0xA5544F, 0xB07D48, 0xB3A35A, 0x5F7F5A, 0x4F8A8F, 0x4F6A8F, 0x6F5A82, 0xA56F86, 0xD8D8D0, 0x303030, 0x7A7A7A, 0x6B5444], // muted
        [0xB23A1E, 0xC8641E, 0xD2A02A, 0x556B2F, 0x3C7D73, 0x2F4F6F, 0x5D3A5A, 0xC07A7A, 0xF0E6D2, 0x2B2118, 0x8A8070, 0x7B4A22], // earth
        [0x8B0000, 0x9C4A00, 0x8B7D00, 0x1B5E20, 0x006064, 0x0D2A6B, 0x4A148C, 0x880E4F, 0xCFCFCF, 0x0A0A0A, 0x555555, 0x3E2723], // dark
        [0xFF1744, 0xFF9100, 0xFFFF00, 0x00E676, 0x18FFFF, 0x2979FF, 0xD500F9, 0xFF4081, 0xFFFFFF, 0x000000, 0xB0B0B0, 0xA1663A], // neon
    ];

    private static readonly Rgb[][] s_colours = s_hex.Select(row => row.Select(Rgb.FromHex).ToArray()).ToArray();

    /// <summary>Colour names in label order.</summary>
    public static IReadOnlyList<string> Names => s_names;

    public static Rgb Colour(PaletteKind palette, int colourIndex) => s_colours[(int)palette][colourIndex];
}
