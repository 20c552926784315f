using System.Globalization;
using ScottPlot;
using SkiaSharp;
using Tessera.Models.Training;

namespace Tessera.Models.Plotting;

/// <summary>
/// Every chart Tessera writes: panels of line charts or heatmaps laid out in a grid, saved as a PNG
/// and an SVG with the same stem (both atomically). Drawn with ScottPlot 5 on SkiaSharp; the
/// legend sits outside the data area so it never hides or clips a curve.
/// </summary>
public static class Figures
{
    /// <summary>Pixels of one panel.</summary>
    public const int PanelWidth = 620, PanelHeight = 360;

    /// <summary>
    /// Writes <paramref name="panels"/> (two per row) to STEM.png and STEM.svg, where STEM is
    /// <paramref name="path"/> without its extension; returns the two paths. No panels: nothing is written.
    /// </summary>
    public static (string Png, string Svg) SaveCharts(string path, IReadOnlyList<ChartPanel> panels)
    {
        ArgumentNullException.ThrowIfNull(panels);
        return Save(path, panels.Select(p => (Func<Plot>)(() => Chart(p))).ToList());
    }

    /// <summary>Writes heatmap panels (one per row) to STEM.png and STEM.svg; see <see cref="SaveCharts"/>.</summary>
    public static (string Png, string Svg) SaveHeatmaps(string path, IReadOnlyList<HeatmapPanel> panels)
    {
        ArgumentNullException.ThrowIfNull(panels);
        return Save(path, panels.Select(p => (Func<Plot>)(() => Heatmap(p))).ToList(), columns: 1,
            panelHeight: panels.Count == 0 ? PanelHeight : Math.Max(180, 60 + 18 * panels.Max(p => p.Rows.Count)));
    }

    private static (string Png, string Svg) Save(string path, IReadOnlyList<Func<Plot>> panels, int columns = 2, int panelHeight = PanelHeight)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string stem = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", Path.GetFileNameWithoutExtension(path));
        (string png, string svg) = (stem + ".png", stem + ".svg");
        if (panels.Count == 0) return (png, svg);
        columns = Math.Min(columns, panels.Count);
        int rows = (panels.Count + columns - 1) / columns;
        int width = columns * PanelWidth, height = rows * panelHeight;
        var plots = panels.Select(make => make()).ToList();
        PixelRect Cell(int i) => new(i % columns * PanelWidth, i % columns * PanelWidth + PanelWidth, i / columns * panelHeight + panelHeight, i / columns * panelHeight);

        using (var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul)))
        {
            surface.Canvas.Clear(SKColors.White);
            for (int i = 0; i < plots.Count; i++) RenderClipped(plots[i], surface.Canvas, Cell(i));
            using var image = surface.Snapshot();
            using var encoded = image.Encode(SKEncodedImageFormat.Png, 100);
            AtomicFile.WriteAllBytes(png, encoded.AsSpan());
        }
        using (var buffer = new MemoryStream())
        {
            using (var stream = new SKManagedWStream(buffer))
            using (var canvas = SKSvgCanvas.Create(SKRect.Create(width, height), stream))
            {
                canvas.Clear(SKColors.White);
                for (int i = 0; i < plots.Count; i++) RenderClipped(plots[i], canvas, Cell(i));
            }
            AtomicFile.WriteAllBytes(svg, buffer.ToArray());
        }
        return (png, svg);
    }

    /// <summary>ScottPlot clears the canvas before drawing a plot; clipped to its cell, the clear cannot wipe the panels drawn before.</summary>
    private static void RenderClipped(Plot plot, SKCanvas canvas, PixelRect cell)
    {
        canvas.Save();
        canvas.ClipRect(new SKRect(cell.Left, cell.Top, cell.Right, cell.Bottom));
        plot.Render(canvas, cell);
        canvas.Restore();
    }

    private static Plot Chart(ChartPanel panel)
    {
        var plot = new Plot();
        PlotStyle.Apply(plot);
        plot.Title(panel.Title, size: 14);
        plot.XLabel(panel.XLabel, size: 12);
        plot.YLabel(panel.YLabel + (panel.LogY ? " (log scale)" : ""), size: 12);
        double low = double.PositiveInfinity, high = double.NegativeInfinity;
        for (int s = 0; s < panel.Series.Count; s++)
        {
            var series = panel.Series[s];
            var points = series.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!panel.LogY || p.Y > 0)).ToList();
            if (points.Count == 0) continue;
            foreach (var p in points)
            {
                low = Math.Min(low, p.Y);
                high = Math.Max(high, p.Y);
            }
            var xs = points.Select(p => p.X).ToArray();
            var ys = points.Select(p => panel.LogY ? Math.Log10(p.Y) : p.Y).ToArray();
            var colour = PlotStyle.Colour(series.ColourIndex ?? s);
            var scatter = series.MarkersOnly || points.Count == 1 ? plot.Add.ScatterPoints(xs, ys, colour) : plot.Add.ScatterLine(xs, ys, colour);
            scatter.LegendText = series.Name;
            if (series.MarkersOnly || points.Count == 1)
            {
                scatter.MarkerSize = 8;
                scatter.MarkerShape = MarkerShape.FilledDiamond;
            }
            else
            {
                scatter.LineWidth = 1.6f;
            }
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = FormatTick };
        plot.Axes.Left.TickGenerator = panel.LogY && low <= high ? LogTicks(low, high) : new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = FormatTick };
        if (panel.Series.Count > 1) plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static Plot Heatmap(HeatmapPanel panel)
    {
        var plot = new Plot();
        PlotStyle.Apply(plot);
        plot.Title(panel.Title, size: 13);
        plot.XLabel(panel.XLabel, size: 11);
        int rows = panel.Rows.Count, columns = panel.ColumnLabels.Count;
        var values = new double[rows, columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                values[r, c] = c < panel.Rows[r].Values.Count ? panel.Rows[r].Values[c] : double.NaN;
        var map = plot.Add.Heatmap(values);
        map.Colormap = new ScottPlot.Colormaps.Balance();
        map.ManualRange = new ScottPlot.Range(panel.Min, panel.Max);
        map.NaNCellColor = Colors.LightGray;
        // Cell (r, c) is centred on (c, rows - 1 - r): row 0 at the top.
        map.Extent = new CoordinateRect(-0.5, columns - 0.5, -0.5, rows - 0.5);
        plot.Add.ColorBar(map, Edge.Right);
        var left = new ScottPlot.TickGenerators.NumericManual();
        for (int r = 0; r < rows; r++) left.AddMajor(rows - 1 - r, panel.Rows[r].Label);
        plot.Axes.Left.TickGenerator = left;
        var bottom = new ScottPlot.TickGenerators.NumericManual();
        int step = Math.Max(1, columns / 8);
        for (int c = 0; c < columns; c += step) bottom.AddMajor(c, panel.ColumnLabels[c]);
        plot.Axes.Bottom.TickGenerator = bottom;
        plot.Axes.SetLimits(-0.5, columns - 0.5, -0.5, rows - 0.5);
        return plot;
    }

    /// <summary>
    /// Ticks for a log10 axis between <paramref name="low"/> and <paramref name="high"/>: 1-2-5 per
    /// decade when that gives at least three, every integer multiple otherwise, labelled as plain
    /// numbers with three significant digits (0.05, 0.2, 1, 20), never 1.25e3-style.
    /// </summary>
    internal static ScottPlot.TickGenerators.NumericManual LogTicks(double low, double high)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (value, label) in LogTickValues(low, high)) ticks.AddMajor(Math.Log10(value), label);
        return ticks;
    }

    /// <summary>The values and labels <see cref="LogTicks"/> places.</summary>
    internal static List<(double Value, string Label)> LogTickValues(double low, double high)
    {
        var positions = Candidates(low, high, [1, 2, 5]);
        if (positions.Count < 3) positions = Candidates(low, high, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        if (positions.Count < 2) positions = [low, high];
        return positions.Select(v => (v, FormatTick(v))).ToList();
    }

    private static List<double> Candidates(double low, double high, int[] mantissas)
    {
        var values = new List<double>();
        for (int exponent = (int)Math.Floor(Math.Log10(low)) - 1; exponent <= (int)Math.Ceiling(Math.Log10(high)) + 1; exponent++)
            foreach (int m in mantissas)
            {
                double value = m * Math.Pow(10, exponent);
                // A margin of a few percent so end points near a tick still get it.
                if (value >= low * 0.97 && value <= high * 1.03) values.Add(value);
            }
        return values;
    }

    /// <summary>Three significant digits in plain notation from 0.001 to 1e6, thousands as "k" above that.</summary>
    internal static string FormatTick(double value) => Math.Abs(value) >= 1e6 || (value != 0 && Math.Abs(value) < 1e-3)
        ? value.ToString("0.##e0", CultureInfo.InvariantCulture)
        : double.Parse(value.ToString("G3", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture).ToString("0.######", CultureInfo.InvariantCulture);
}
