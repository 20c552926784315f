using ScottPlot;
using SkiaSharp;

namespace Tessera.Models.Plotting;

/// <summary>
/// The look every figure shares. ScottPlot asks Skia for its default font, which on a headless
/// Linux machine resolves to a serif face (or none): the sans family is set explicitly, picked once
/// from the fonts Skia finds (DejaVu Sans on Debian, installed by .ci/run as fonts-dejavu-core).
/// </summary>
public static class PlotStyle
{
    private static readonly string[] Preferred = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"];

    private static readonly Lazy<string?> s_family = new(FindSans);

    /// <summary>The sans-serif family figures use, or null when Skia finds none (text then falls back to Skia's default face).</summary>
    public static string? SansFamily => s_family.Value;

    /// <summary>Series colours (Category10), by index.</summary>
    public static Color Colour(int index) => new ScottPlot.Palettes.Category10().GetColor(index);

    internal static void Apply(Plot plot)
    {
        if (SansFamily is string family) plot.Font.Set(family);
    }

    private static string? FindSans()
    {
        var families = SKFontManager.Default.FontFamilies.ToList();
        return Preferred.FirstOrDefault(p => families.Contains(p, StringComparer.OrdinalIgnoreCase))
               ?? families.FirstOrDefault(f => f.Contains("Sans", StringComparison.OrdinalIgnoreCase) && !f.Contains("Mono", StringComparison.OrdinalIgnoreCase));
    }
}
