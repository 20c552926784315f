namespace Tessera.Models.Plotting;

/// <summary>One named curve of (x, y) points. Markers only (no line) for sparse points such as test metrics at evaluations.</summary>
public sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Y)> Points, bool MarkersOnly = false, int? ColourIndex = null);

/// <summary>One panel of a figure: a titled pair of axes with its series; <see cref="LogY"/> puts y on a log10 axis (non-positive values are dropped).</summary>
public sealed record ChartPanel(string Title, string XLabel, string YLabel, IReadOnlyList<PlotSeries> Series, bool LogY = false);

/// <summary>One row of a heatmap: a label and a value per column (NaN cells are grey).</summary>
public sealed record HeatmapRow(string Label, IReadOnlyList<double> Values);

/// <summary>A heatmap panel: rows over shared columns, values coloured on a fixed range.</summary>
public sealed record HeatmapPanel(string Title, IReadOnlyList<HeatmapRow> Rows, IReadOnlyList<string> ColumnLabels, string XLabel, double Min = 0, double Max = 1);
