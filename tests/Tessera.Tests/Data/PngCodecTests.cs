using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Tessera.Models.Data.Images;
using Xunit;

namespace Tessera.Tests.Data;

public class PngCodecTests
{
    [Fact]
    public void Crc32KnownAnswer() => Assert.Equal(0xCBF43926u, Crc32.Compute(Encoding.ASCII.GetBytes("123456789")));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 3)]
    [InlineData(64, 64)]
    public void RgbRoundTrip(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        var random = new Random(width * 31 + height);
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i % 7 == 0 ? random.Next(256) : (i * 13) % 256);
        var decoded = PngCodec.Decode(PngCodec.EncodeRgb(rgb, width, height));
        Assert.Equal((width, height, 3), (decoded.Width, decoded.Height, decoded.Channels));
        Assert.Equal(rgb, decoded.Pixels);
    }

    [Fact]
    public void WriteIsAtomicAndReadable()
    {
        string folder = Path.Combine(Path.GetTempPath(), "tessera-png-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "a.png");
            PngCodec.WriteRgb(path, new byte[] { 1, 2, 3, 4, 5, 6 }, 2, 1);
            Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, PngCodec.Read(path).Pixels);
            Assert.Single(Directory.GetFiles(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void DecodesPillowFiles()
    {
        string dir = Path.Combine(DataTestPaths.TestData, "png");
        var rgba = PngCodec.Read(Path.Combine(dir, "pil-rgba-7x6.png"));
        Assert.Equal((7, 6, 4), (rgba.Width, rgba.Height, rgba.Channels));
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 7; x++)
            {
                int i = 4 * (y * 7 + x);
                Assert.Equal(new byte[] { (byte)((x * 40 + y * 3) % 256), (byte)(255 - x * 20), (byte)(y * 60 % 256), (byte)(128 + x + y) }, rgba.Pixels[i..(i + 4)]);
            }
        var grey = PngCodec.Read(Path.Combine(dir, "pil-grey-9x5.png"));
        Assert.Equal((9, 5, 1), (grey.Width, grey.Height, grey.Channels));
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 9; x++)
                Assert.Equal((byte)((x * x * 7 + y * 31) % 256), grey.Pixels[y * 9 + x]);
        var rgb = PngCodec.Read(Path.Combine(dir, "pil-rgb-33x17.png"));
        for (int y = 0; y < 17; y++)
            for (int x = 0; x < 33; x++)
            {
                int i = 3 * (y * 33 + x);
                Assert.Equal(new byte[] { (byte)((x * 37 + y * 11) % 256), (byte)((x * y * 5) % 256), (byte)(((200 - x - y * 9) % 256 + 256) % 256) }, rgb.Pixels[i..(i + 3)]);
            }
    }

    /// <summary>A grey+alpha image written by hand, one filter type per row (0..4), checked against the known pixels.</summary>
    [Fact]
    public void DecodesHandMadeFileWithAllFiveFilters()
    {
        const int width = 3, height = 5, bpp = 2, stride = width * bpp;
        var pixels = new byte[height * stride];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 37 + 11);
        var raw = new List<byte>();
        for (int y = 0; y < height; y++)
        {
            int filter = y; // row 0: None, 1: Sub, 2: Up, 3: Average, 4: Paeth
            raw.Add((byte)filter);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= bpp ? pixels[y * stride + i - bpp] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
                int c = i >= bpp && y > 0 ? pixels[(y - 1) * stride + i - bpp] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                int predictor = filter switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, _ => paeth };
                raw.Add((byte)(pixels[y * stride + i] - predictor));
            }
        }
        var png = BuildPng(width, height, colourType: 4, raw.ToArray());
        var decoded = PngCodec.Decode(png);
        Assert.Equal((width, height, 2), (decoded.Width, decoded.Height, decoded.Channels));
        Assert.Equal(pixels, decoded.Pixels);
    }

    [Fact]
    public void CorruptFilesGiveClearErrors()
    {
        var good = PngCodec.EncodeRgb(new byte[4 * 4 * 3], 4, 4);
        var flipped = (byte[])good.Clone();
        flipped[good.Length - 20] ^= 0x40; // inside IDAT
        Assert.Contains("CRC mismatch", Assert.Throws<InvalidDataException>(() => PngCodec.Decode(flipped)).Message, StringComparison.Ordinal);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => PngCodec.Decode(good.AsSpan(0, good.Length - 15))).Message, StringComparison.Ordinal);
        Assert.Contains("signature", Assert.Throws<InvalidDataException>(() => PngCodec.Decode("GIF89a..."u8)).Message, StringComparison.Ordinal);
        // Valid chunks but a damaged zlib stream.
        var badZlib = BuildPng(2, 2, 2, [0, 1, 2, 3, 4, 5, 6], compress: false);
        Assert.Contains("zlib", Assert.Throws<InvalidDataException>(() => PngCodec.Decode(badZlib)).Message, StringComparison.Ordinal);
        var badFilter = BuildPng(1, 1, 0, [7, 9]);
        Assert.Contains("filter type 7", Assert.Throws<InvalidDataException>(() => PngCodec.Decode(badFilter)).Message, StringComparison.Ordinal);
        var sixteenBit = BuildPng(1, 1, 0, [0, 0, 0], bitDepth: 16);
        Assert.Contains("bit depth 16", Assert.Throws<InvalidDataException>(() => PngCodec.Decode(sixteenBit)).Message, StringComparison.Ordinal);
        string missing = Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N") + ".png");
        Assert.Throws<FileNotFoundException>(() => PngCodec.Read(missing));
    }

    private static byte[] BuildPng(int width, int height, byte colourType, byte[] raw, bool compress = true, byte bitDepth = 8)
    {
        using var output = new MemoryStream();
        output.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = bitDepth;
        header[9] = colourType;
        Chunk(output, "IHDR", header);
        byte[] data = raw;
        if (compress)
        {
            using var buffer = new MemoryStream();
            using (var zlib = new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) zlib.Write(raw);
            data = buffer.ToArray();
        }
        Chunk(output, "IDAT", data);
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void Chunk(Stream output, string type, byte[] data)
    {
        var word = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var body = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        output.Write(body);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Compute(body));
        output.Write(word);
    }
}
