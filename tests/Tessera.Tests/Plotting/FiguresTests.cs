using System.Xml.Linq;
using Tessera.Models.Data.Images;
using Tessera.Models.Plotting;
using Tessera.Tests.Training;
using Xunit;

namespace Tessera.Tests.Plotting;

public class FiguresTests
{
    [Fact]
    public void ChartsWritePngAndWellFormedSvgWithSansText()
    {
        string folder = TrainingFixtures.TempFolder();
        var panels = new[]
        {
            new ChartPanel("loss <1>", "step", "loss", [new PlotSeries("a", [(0, 2.0), (1, 0.5), (2, double.NaN), (3, 0.05)]), new PlotSeries("b (test)", [(3, 0.2)], MarkersOnly: true)], LogY: true),
            new ChartPanel("top1", "step", "top1", [new PlotSeries("a", [(0, 0.1), (3, 0.9)])]),
            new ChartPanel("lr", "step", "lr", [new PlotSeries("lr", [(0, 0.001), (3, 0.0)])]),
        };
        var (png, svg) = Figures.SaveCharts(Path.Combine(folder, "curves.svg"), panels);
        Assert.Equal(Path.Combine(folder, "curves.png"), png);
        var image = ImageCodec.Read(png);
        // Two panels per row: 2 x 2 cells, the last one blank.
        Assert.Equal((2 * Figures.PanelWidth, 2 * Figures.PanelHeight), (image.Width, image.Height));
        Assert.True(DistinctColours(image) > 8, "the PNG looks blank");
        var document = XDocument.Parse(File.ReadAllText(svg));
        Assert.Equal("svg", document.Root!.Name.LocalName);
        var texts = document.Descendants().Where(e => e.Name.LocalName == "text").ToList();
        Assert.Contains(texts, t => t.Value.Contains("loss <1>", StringComparison.Ordinal));
        Assert.NotNull(PlotStyle.SansFamily);
        Assert.All(texts, t => Assert.Equal(PlotStyle.SansFamily, (string?)t.Attribute("font-family")));
        Assert.Single(Directory.GetFiles(folder, "*.png"));
    }

    [Fact]
    public void LogTicksArePlainNumbersCoveringTheRange()
    {
        var ticks = Figures.LogTickValues(0.03, 4.2).Select(t => t.Label).ToList();
        Assert.Equal(["0.05", "0.1", "0.2", "0.5", "1", "2"], ticks);
        var narrow = Figures.LogTickValues(0.62, 0.95).Select(t => t.Label).ToList();
        Assert.Equal(["0.7", "0.8", "0.9"], narrow);
        Assert.Equal("625", Figures.FormatTick(624.75));
        Assert.Equal("1250", Figures.FormatTick(1250));
        Assert.Equal("0.0123", Figures.FormatTick(0.012345));
    }

    [Fact]
    public void HeatmapsWriteOnePanelPerGroup()
    {
        string folder = TrainingFixtures.TempFolder();
        var rows = new[] { new HeatmapRow("layer1", [0.0, 0.5, 1.0]), new HeatmapRow("layer2", [1.0, double.NaN, 0.2]) };
        var (png, svg) = Figures.SaveHeatmaps(Path.Combine(folder, "routing"), [
            new HeatmapPanel("task a", rows, ["0", "10", "20"], "step"), new HeatmapPanel("task b", rows, ["0", "10", "20"], "step")]);
        var image = ImageCodec.Read(png);
        Assert.Equal(Figures.PanelWidth, image.Width);
        Assert.True(DistinctColours(image) > 8);
        Assert.Contains("task b", File.ReadAllText(svg), StringComparison.Ordinal);
    }

    private static int DistinctColours(RgbImage image) =>
        Enumerable.Range(0, image.Width * image.Height).Select(p => (image.Pixels[3 * p] << 16) | (image.Pixels[3 * p + 1] << 8) | image.Pixels[3 * p + 2]).Distinct().Count();
}
