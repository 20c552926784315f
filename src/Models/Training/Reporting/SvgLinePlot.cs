using System.Globalization;
using System.Net;
using System.Text;

namespace Tessera.Models.Training;

/// <summary>One named curve of (x, y) points.</summary>
public sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// A minimal SVG line plot: axes with 5 ticks each, one polyline per series in a fixed palette,
/// and a legend. Non-finite points are dropped. Enough for training curves in run reports.
/// </summary>
public static class SvgLinePlot
{
    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series, int width = 640, int height = 360)
    {
        ArgumentNullException.ThrowIfNull(series);
        const int left = 64, right = 16, top = 32, bottom = 48;
        var finite = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        double xMin = finite.Count > 0 ? finite.Min(p => p.X) : 0, xMax = finite.Count > 0 ? finite.Max(p => p.X) : 1;
        double yMin = finite.Count > 0 ? finite.Min(p => p.Y) : 0, yMax = finite.Count > 0 ? finite.Max(p => p.Y) : 1;
        if (xMax <= xMin) xMax = xMin + 1;
        if (yMax <= yMin) yMax = yMin + 1;
        double plotWidth = width - left - right, plotHeight = height - top - bottom;
        string X(double x) => F(left + (x - xMin) / (xMax - xMin) * plotWidth);
        string Y(double y) => F(top + (1 - (y - yMin) / (yMax - yMin)) * plotHeight);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{Escape(title)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{F(plotWidth)}\" height=\"{F(plotHeight)}\" fill=\"none\" stroke=\"#444\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double xv = xMin + (xMax - xMin) * i / 4, yv = yMin + (yMax - yMin) * i / 4;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(xv)}\" y1=\"{top}\" x2=\"{X(xv)}\" y2=\"{F(top + plotHeight)}\" stroke=\"#ddd\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(xv)}\" y=\"{F(top + plotHeight + 14)}\" text-anchor=\"middle\">{Tick(xv)}</text>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{Y(yv)}\" x2=\"{F(left + plotWidth)}\" y2=\"{Y(yv)}\" stroke=\"#ddd\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{Y(yv)}\" text-anchor=\"end\" dominant-baseline=\"middle\">{Tick(yv)}</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + plotWidth / 2)}\" y=\"{height - 8}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{F(top + plotHeight / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {F(top + plotHeight / 2)})\">{Escape(yLabel)}</text>\n");
        for (int s = 0; s < series.Count; s++)
        {
            string colour = Palette[s % Palette.Length];
            var points = series[s].Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).Select(p => $"{X(p.X)},{Y(p.Y)}");
            svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{string.Join(' ', points)}\"/>\n");
            int legendY = top + 12 + 14 * s;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(left + plotWidth - 140)}\" y1=\"{legendY}\" x2=\"{F(left + plotWidth - 124)}\" y2=\"{legendY}\" stroke=\"{colour}\" stroke-width=\"2\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + plotWidth - 120)}\" y=\"{legendY}\" dominant-baseline=\"middle\">{Escape(series[s].Name)}</text>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string F(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Tick(double value) => Math.Abs(value) >= 1000 || (Math.Abs(value) < 0.01 && value != 0)
        ? value.ToString("0.##e0", CultureInfo.InvariantCulture)
        : value.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}
