using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Tessera.Models.Data.Images;
using Xunit;

namespace Tessera.Tests.Data;

public class ImageCodecTests
{
    private static string Fixture(string folder, string name) => Path.Combine(DataTestPaths.TestData, folder, name);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 3)]
    [InlineData(64, 64)]
    public void PngRoundTripIsExact(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        var random = new Random(width * 31 + height);
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i % 7 == 0 ? random.Next(256) : (i * 13) % 256);
        var decoded = ImageCodec.Decode(ImageCodec.EncodePng(rgb, width, height));
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
        Assert.Equal(rgb, decoded.Pixels);
    }

    [Fact]
    public void JpegRoundTripIsClose()
    {
        const int width = 24, height = 16;
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = 3 * (y * width + x);
                (rgb[i], rgb[i + 1], rgb[i + 2]) = ((byte)(x * 10), (byte)(y * 15), 128);
            }
        var decoded = ImageCodec.Decode(ImageCodec.EncodeJpeg(rgb, width, height, quality: 95));
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
        int maxDiff = rgb.Zip(decoded.Pixels, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 12, $"JPEG q95 of a smooth ramp: max abs diff {maxDiff} > 12");
    }

    [Fact]
    public void WritePngIsAtomicAndReadable()
    {
        string folder = Path.Combine(Path.GetTempPath(), "tessera-png-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(folder, "a.png");
            ImageCodec.WritePng(path, new byte[] { 1, 2, 3, 4, 5, 6 }, 2, 1);
            Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, ImageCodec.Read(path).Pixels);
            Assert.Single(Directory.GetFiles(folder));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Pillow's files (tools/data/make-png-fixtures.py): RGBA drops alpha, grey is spread to three channels.</summary>
    [Fact]
    public void DecodesPillowPngsToRgb()
    {
        var rgba = ImageCodec.Read(Fixture("png", "pil-rgba-7x6.png"));
        Assert.Equal((7, 6), (rgba.Width, rgba.Height));
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 7; x++)
            {
                int i = 3 * (y * 7 + x);
                Assert.Equal(new byte[] { (byte)((x * 40 + y * 3) % 256), (byte)(255 - x * 20), (byte)(y * 60 % 256) }, rgba.Pixels[i..(i + 3)]);
            }
        var grey = ImageCodec.Read(Fixture("png", "pil-grey-9x5.png"));
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 9; x++)
            {
                byte v = (byte)((x * x * 7 + y * 31) % 256);
                Assert.Equal(new byte[] { v, v, v }, grey.Pixels[(3 * (y * 9 + x))..(3 * (y * 9 + x) + 3)]);
            }
        var rgb = ImageCodec.Read(Fixture("png", "pil-rgb-33x17.png"));
        for (int y = 0; y < 17; y++)
            for (int x = 0; x < 33; x++)
            {
                int i = 3 * (y * 33 + x);
                Assert.Equal(new byte[] { (byte)((x * 37 + y * 11) % 256), (byte)((x * y * 5) % 256), (byte)(((200 - x - y * 9) % 256 + 256) % 256) }, rgb.Pixels[i..(i + 3)]);
            }
    }

    /// <summary>tools/data/make-image-fixtures.py: 16-bit grey, palette, CMYK JPEG and grey JPEG all come out as 8-bit RGB.</summary>
    [Fact]
    public void DecodesSixteenBitPaletteCmykAndGreyJpeg()
    {
        var grey16 = ImageCodec.Read(Fixture("images", "pil-grey16-8x4.png"));
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 8; x++)
            {
                int v = (x * 29 + y * 53) % 256, i = 3 * (y * 8 + x);
                Assert.True(Math.Abs(grey16.Pixels[i] - v) <= 1 && grey16.Pixels[i] == grey16.Pixels[i + 1] && grey16.Pixels[i] == grey16.Pixels[i + 2],
                    $"16-bit grey at ({x}, {y}): expected {v} in all three channels, found {grey16.Pixels[i]}, {grey16.Pixels[i + 1]}, {grey16.Pixels[i + 2]}");
            }
        var palette = ImageCodec.Read(Fixture("images", "pil-palette-6x4.png"));
        byte[][] colours = [[255, 0, 0], [0, 0, 255], [250, 250, 10]];
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 6; x++)
                Assert.Equal(colours[(x + y) % 3], palette.Pixels[(3 * (y * 6 + x))..(3 * (y * 6 + x) + 3)]);
        AssertHalves(ImageCodec.Read(Fixture("images", "pil-cmyk-32x16.jpg")), [255, 0, 0], [0, 255, 0], "CMYK JPEG");
        AssertHalves(ImageCodec.Read(Fixture("images", "pil-grey-32x16.jpg")), [40, 40, 40], [200, 200, 200], "grey JPEG");
    }

    private static void AssertHalves(RgbImage image, byte[] left, byte[] right, string what)
    {
        Assert.Equal((32, 16), (image.Width, image.Height));
        foreach (var (x, expected) in new[] { (4, left), (27, right) })
            for (int c = 0; c < 3; c++)
            {
                int found = image.Pixels[3 * (8 * 32 + x) + c];
                Assert.True(Math.Abs(found - expected[c]) <= 24, $"{what} at x={x}, channel {c}: expected ~{expected[c]}, found {found}");
            }
    }

    [Fact]
    public void ToPlanarIsChannelMajorInUnitRange()
    {
        var planar = new RgbImage(2, 1, [255, 0, 51, 0, 102, 255]).ToPlanar();
        Assert.Equal(new[] { 1f, 0f, 0f, 0.4f, 0.2f, 1f }, planar, new FloatComparer(1e-6f));
    }

    [Fact]
    public void BombHeaderIsRefusedBeforeAllocation()
    {
        // A valid PNG declaring 100,000 x 100,000 pixels (40 GB as RGBA) with one tiny IDAT.
        var bomb = Tessera.Fuzz.RawPng.Build(100_000, 100_000, colourType: 2, raw: new byte[16]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(bomb, name: "bomb.png"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(ImageDecodeFailure.TooLarge, error.Reason);
        Assert.Contains("100000x100000", error.Message, StringComparison.Ordinal);
        Assert.Contains("limit", error.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1 << 20, $"refusing the bomb allocated {allocated:N0} managed bytes; the limit must be checked before the pixel buffer");
        // A lower cap refuses an ordinary image too, naming the cap.
        var small = ImageCodec.EncodePng(new byte[10 * 10 * 3], 10, 10);
        Assert.Equal(ImageDecodeFailure.TooLarge, Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(small, new ImageDecodeLimits(MaxPixels: 99))).Reason);
    }

    [Fact]
    public void BadBytesGiveOneExceptionTypeWithAReason()
    {
        var png = ImageCodec.EncodePng(Enumerable.Range(0, 32 * 32 * 3).Select(i => (byte)(i * 7)).ToArray(), 32, 32);
        var jpeg = ImageCodec.EncodeJpeg(Enumerable.Range(0, 32 * 32 * 3).Select(i => (byte)(i * 7)).ToArray(), 32, 32);
        Assert.Equal(ImageDecodeFailure.UnknownFormat, Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode([])).Reason);
        var text = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode("hello, this is a text file"u8, name: "notes.txt"));
        Assert.Equal(ImageDecodeFailure.UnknownFormat, text.Reason);
        Assert.Contains("notes.txt", text.Message, StringComparison.Ordinal);
        foreach (var (bytes, what) in new[] { (png, "PNG"), (jpeg, "JPEG") })
        {
            var cut = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(bytes.AsSpan(0, bytes.Length * 2 / 3), name: what));
            Assert.True(cut.Reason is ImageDecodeFailure.Truncated or ImageDecodeFailure.Corrupt, $"{what} cut at 2/3: {cut.Reason}: {cut.Message}");
            // Only the header survives.
            Assert.IsType<ImageDecodeException>(Record.Exception(() => ImageCodec.Decode(bytes.AsSpan(0, 40))));
        }
        Assert.Throws<FileNotFoundException>(() => ImageCodec.Read(Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N") + ".png")));
    }

    private sealed class FloatComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
