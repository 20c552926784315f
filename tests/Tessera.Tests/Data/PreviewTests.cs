using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

public class PreviewTests
{
    [Fact]
    public void PreviewDrawsCellsTextAndEncodes()
    {
        var canvas = WorldPreview.Render(WorldSources.Get("objects-det"), 3, 32, 0);
        var png = ImageCodec.Decode(ImageCodec.EncodePng(canvas.Pixels, canvas.Width, canvas.Height));
        Assert.Equal(canvas.Pixels, png.Pixels);
        Assert.True(canvas.Width >= 3 * 128);
        // The title is antialiased text: light ink (> 200) over the dark background in its first line.
        int inked = 0;
        for (int y = 4; y < 4 + Canvas.LineHeight; y++)
            for (int x = 6; x < 200; x++)
                if (canvas.Pixels[3 * (y * canvas.Width + x)] > 200) inked++;
        Assert.True(inked > 40, $"only {inked} bright pixels where the title should be");
        Assert.Equal(new List<string> { "a small red", "star" }, Canvas.Wrap("a small red star", 11));
    }
}

public class SegmentationPreviewTests
{
    /// <summary>Segmentation previews fill every labelled pixel with its class colour, not only the outlines.</summary>
    [Fact]
    public void SegmentationMasksAreFilled()
    {
        var source = WorldSources.Get("parts-seg");
        var plain = WorldPreview.Render(source, 1, 32, 0);
        var scene = WorldGenerator.Generate(source, "train", 0, 0, 32);
        int scale = 128 / 32, changed = 0, labelled = 0;
        var raw = new Canvas(plain.Width, plain.Height, (24, 24, 28));
        raw.DrawImage(scene.Buffers.Image, 32, 32, 6, 4 + Canvas.LineHeight * 2, scale);
        for (int y = 0; y < 32 * scale; y++)
            for (int x = 0; x < 32 * scale; x++)
            {
                if (scene.Buffers.Semantic[(y / scale) * 32 + x / scale] == ImageSample.Ignore) continue;
                labelled++;
                int i = 3 * ((4 + Canvas.LineHeight * 2 + y) * plain.Width + 6 + x);
                if (Math.Abs(plain.Pixels[i] - raw.Pixels[i]) + Math.Abs(plain.Pixels[i + 1] - raw.Pixels[i + 1]) + Math.Abs(plain.Pixels[i + 2] - raw.Pixels[i + 2]) > 30) changed++;
            }
        Assert.True(changed > labelled / 2, $"{changed} of {labelled} labelled pixels are tinted: the masks are not filled");
    }
}
