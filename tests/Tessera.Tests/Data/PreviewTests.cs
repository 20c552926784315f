using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

public class PreviewTests
{
    [Fact]
    public void FontGlyphsAreThreeByFive()
    {
        foreach (char c in BitmapFont.Characters)
            Assert.Equal(15, BitmapFont.Glyph(c)!.Length);
        Assert.NotNull(BitmapFont.Glyph('a'));
        Assert.Null(BitmapFont.Glyph('~'));
    }

    [Fact]
    public void PreviewDrawsCellsTextAndEncodes()
    {
        var canvas = WorldPreview.Render(WorldSources.Get("objects-det"), 3, 32, 0);
        var png = ImageCodec.Decode(ImageCodec.EncodePng(canvas.Pixels, canvas.Width, canvas.Height));
        Assert.Equal(canvas.Pixels, png.Pixels);
        Assert.True(canvas.Width >= 3 * 128);
        // The title's first glyph ('O') puts ink at its top-middle cell.
        int i = 3 * (4 * canvas.Width + 6 + 1);
        Assert.True(canvas.Pixels[i] > 200);
        Assert.Equal(new List<string> { "a small red", "star" }, Canvas.Wrap("a small red star", 11));
    }
}
