using System.Globalization;
using System.Net;
using System.Text;

namespace Tessera.Models.Systems.Gppf;

/// <summary>One row of a heatmap: a label and values in [0, 1], one per column.</summary>
public sealed record HeatmapRow(string Label, IReadOnlyList<double> Values);

/// <summary>
/// A minimal SVG heatmap: labelled rows of cells coloured on a blue (0) – white (0.5) – red (1)
/// scale, column labels under the grid, a colour bar, and blank lines between row groups.
/// </summary>
public static class SvgHeatmap
{
    /// <summary>Renders <paramref name="groups"/> (each a titled block of rows) with <paramref name="columnLabels"/>.</summary>
    public static string Render(string title, IReadOnlyList<(string Title, IReadOnlyList<HeatmapRow> Rows)> groups, IReadOnlyList<string> columnLabels, string legend)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(columnLabels);
        const int left = 150, top = 40, cell = 14, gap = 20, labelHeight = 44;
        int columns = columnLabels.Count;
        int rows = groups.Sum(g => g.Rows.Count);
        int width = left + columns * cell + 90, height = top + rows * cell + groups.Count * gap + labelHeight;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"10\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n<text x=\"{left}\" y=\"18\" font-size=\"13\">{WebUtility.HtmlEncode(title)}</text>\n");
        int y = top;
        foreach (var (groupTitle, groupRows) in groups)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"{y + 10}\" font-weight=\"bold\">{WebUtility.HtmlEncode(groupTitle)}</text>\n");
            y += gap - 6;
            foreach (var row in groupRows)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{y + cell - 3}\" text-anchor=\"end\">{WebUtility.HtmlEncode(row.Label)}</text>\n");
                for (int c = 0; c < Math.Min(columns, row.Values.Count); c++)
                    svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left + c * cell}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"{Colour(row.Values[c])}\"><title>{row.Values[c]:F3}</title></rect>\n");
                y += cell;
            }
            y += 6;
        }
        int step = Math.Max(1, columns / 8);
        for (int c = 0; c < columns; c += step)
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + c * cell + cell / 2}\" y=\"{y + 12}\" text-anchor=\"middle\">{WebUtility.HtmlEncode(columnLabels[c])}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{y + 30}\">{WebUtility.HtmlEncode(legend)}</text>\n");
        int barX = left + columns * cell + 30;
        for (int i = 0; i <= 10; i++)
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{barX}\" y=\"{top + (10 - i) * 10}\" width=\"14\" height=\"10\" fill=\"{Colour(i / 10.0)}\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{barX + 18}\" y=\"{top + 8}\">1</text><text x=\"{barX + 18}\" y=\"{top + 108}\">0</text>\n</svg>\n");
        return svg.ToString();
    }

    /// <summary>Blue (0) → white (0.5) → red (1); NaN is grey.</summary>
    public static string Colour(double value)
    {
        if (!double.IsFinite(value)) return "#cccccc";
        double v = Math.Clamp(value, 0, 1);
        int r, g, b;
        if (v < 0.5) { double t = v / 0.5; r = (int)(33 + t * (255 - 33)); g = (int)(102 + t * (255 - 102)); b = (int)(172 + t * (255 - 172)); }
        else { double t = (v - 0.5) / 0.5; r = (int)(255 + t * (178 - 255)); g = (int)(255 + t * (24 - 255)); b = (int)(255 + t * (43 - 255)); }
        return $"#{r:x2}{g:x2}{b:x2}";
    }
}
