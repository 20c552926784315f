using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Tessera.Models.Data.Images;

/// <summary>An 8-bit image: interleaved channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), row-major.</summary>
public sealed record PngImage(int Width, int Height, int Channels, byte[] Pixels);

/// <summary>
/// PNG without dependencies: encodes 8-bit RGB (adaptive per-row filter, zlib via
/// <see cref="ZLibStream"/>); decodes 8-bit grey, grey+alpha, RGB and RGBA, non-interlaced, all
/// five filter types, checking every chunk's CRC. Anything else is an <see cref="InvalidDataException"/>
/// that says what was found.
/// </summary>
public static class PngCodec
{
    private static readonly byte[] s_signature = [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Encodes interleaved 8-bit RGB ([height, width, 3]).</summary>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"expected {width}x{height}x3 = {width * height * 3} bytes of RGB, got {rgb.Length}");
        int stride = width * 3;
        var filtered = new byte[height * (stride + 1)];
        var candidate = new byte[stride];
        for (int y = 0; y < height; y++)
        {
            var row = rgb.Slice(y * stride, stride);
            var previous = y > 0 ? rgb.Slice((y - 1) * stride, stride) : default;
            // Pick the filter with the smallest sum of absolute (signed) residuals: the usual heuristic.
            long best = long.MaxValue;
            for (int type = 0; type < 5; type++)
            {
                long cost = 0;
                for (int i = 0; i < stride; i++)
                {
                    byte residual = (byte)(row[i] - Predict(type, row, previous, i, 3));
                    candidate[i] = residual;
                    cost += residual < 128 ? residual : 256 - residual;
                }
                if (cost < best)
                {
                    best = cost;
                    filtered[y * (stride + 1)] = (byte)type;
                    candidate.CopyTo(filtered, y * (stride + 1) + 1);
                }
            }
        }
        using var output = new MemoryStream();
        output.Write(s_signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type RGB
        header[10] = header[11] = header[12] = 0; // deflate, adaptive filtering, no interlace
        WriteChunk(output, "IHDR", header);
        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
                zlib.Write(filtered);
            WriteChunk(output, "IDAT", compressed.ToArray());
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>Writes a PNG file atomically (temp file + rename), so a crash never leaves half a file.</summary>
    public static void WriteRgb(string path, ReadOnlySpan<byte> rgb, int width, int height)
    {
        var bytes = EncodeRgb(rgb, width, height);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, full, overwrite: true);
    }

    public static PngImage Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new FileNotFoundException($"image file not found: {path}", path);
        }
        try
        {
            return Decode(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static PngImage Decode(ReadOnlySpan<byte> png)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(s_signature))
            throw new InvalidDataException("not a PNG file: the 8-byte PNG signature is missing");
        int position = 8, width = 0, height = 0, channels = 0;
        bool sawHeader = false, sawEnd = false;
        using var idat = new MemoryStream();
        while (position < png.Length && !sawEnd)
        {
            if (position + 12 > png.Length)
                throw new InvalidDataException($"truncated PNG: a chunk header at byte {position} runs past the end of the file ({png.Length} bytes)");
            int length = BinaryPrimitives.ReadInt32BigEndian(png[position..]);
            if (length < 0 || position + 12L + length > png.Length)
                throw new InvalidDataException($"truncated PNG: a chunk at byte {position} claims {length} bytes but the file has {png.Length - position - 12} left");
            var typeAndData = png.Slice(position + 4, 4 + length);
            string type = Encoding.ASCII.GetString(typeAndData[..4]);
            var data = typeAndData[4..];
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(png[(position + 8 + length)..]);
            uint actual = Crc32.Compute(typeAndData);
            if (stored != actual)
                throw new InvalidDataException($"corrupt PNG: CRC mismatch in chunk {type} at byte {position} (stored {stored:X8}, computed {actual:X8})");
            switch (type)
            {
                case "IHDR":
                    (width, height, channels) = ParseHeader(data);
                    sawHeader = true;
                    break;
                case "IDAT":
                    if (!sawHeader) throw new InvalidDataException("corrupt PNG: IDAT before IHDR");
                    idat.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                case "PLTE":
                    throw new InvalidDataException("unsupported PNG: palette images are not supported (expected 8-bit grey, grey+alpha, RGB or RGBA)");
                default:
                    if ((typeAndData[0] & 0x20) == 0)
                        throw new InvalidDataException($"unsupported PNG: unknown critical chunk {type}");
                    break; // ancillary chunks (text, gamma...) are skipped
            }
            position += 12 + length;
        }
        if (!sawHeader) throw new InvalidDataException("corrupt PNG: no IHDR chunk");
        if (idat.Length == 0) throw new InvalidDataException("corrupt PNG: no IDAT chunk (no image data)");
        int stride = width * channels;
        long expected = (long)height * (stride + 1);
        var raw = new byte[expected];
        try
        {
            idat.Position = 0;
            using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
            int read = 0;
            while (read < raw.Length)
            {
                int n = zlib.Read(raw, read, raw.Length - read);
                if (n == 0) break;
                read += n;
            }
            if (read != raw.Length)
                throw new InvalidDataException($"corrupt PNG: image data decompresses to {read} bytes, expected {expected} for {width}x{height} with {channels} channels");
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"corrupt PNG: the zlib stream of the image data is damaged ({e.Message})", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("corrupt PNG", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"corrupt PNG: the zlib stream of the image data is damaged ({e.Message})", e);
        }
        var pixels = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            int type = raw[y * (stride + 1)];
            if (type > 4) throw new InvalidDataException($"corrupt PNG: row {y} has filter type {type} (valid: 0-4)");
            var filtered = raw.AsSpan(y * (stride + 1) + 1, stride);
            var row = pixels.AsSpan(y * stride, stride);
            ReadOnlySpan<byte> previous = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : default;
            for (int i = 0; i < stride; i++)
                row[i] = (byte)(filtered[i] + Predict(type, row, previous, i, channels));
        }
        return new PngImage(width, height, channels, pixels);
    }

    private static (int, int, int) ParseHeader(ReadOnlySpan<byte> data)
    {
        if (data.Length != 13) throw new InvalidDataException($"corrupt PNG: IHDR has {data.Length} bytes, expected 13");
        int width = BinaryPrimitives.ReadInt32BigEndian(data), height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
        if (width <= 0 || height <= 0 || (long)width * height > 1L << 28)
            throw new InvalidDataException($"unsupported PNG: size {width}x{height}");
        if (data[8] != 8) throw new InvalidDataException($"unsupported PNG: bit depth {data[8]} (only 8-bit images are supported)");
        int channels = data[9] switch
        {
            0 => 1,
            2 => 3,
            4 => 2,
            6 => 4,
            3 => throw new InvalidDataException("unsupported PNG: palette images (colour type 3) are not supported"),
            _ => throw new InvalidDataException($"corrupt PNG: colour type {data[9]} does not exist"),
        };
        if (data[10] != 0 || data[11] != 0) throw new InvalidDataException("corrupt PNG: unknown compression or filter method");
        if (data[12] != 0) throw new InvalidDataException("unsupported PNG: interlaced (Adam7) images are not supported");
        return (width, height, channels);
    }

    /// <summary>The predictor of filter <paramref name="type"/> for byte i of a row (raw bytes of this and the previous row).</summary>
    private static byte Predict(int type, ReadOnlySpan<byte> row, ReadOnlySpan<byte> previous, int i, int bytesPerPixel)
    {
        int left = i >= bytesPerPixel ? row[i - bytesPerPixel] : 0;
        int up = previous.IsEmpty ? 0 : previous[i];
        int upLeft = !previous.IsEmpty && i >= bytesPerPixel ? previous[i - bytesPerPixel] : 0;
        switch (type)
        {
            case 0: return 0;
            case 1: return (byte)left;
            case 2: return (byte)up;
            case 3: return (byte)((left + up) >> 1);
            default:
                int p = left + up - upLeft;
                int pa = Math.Abs(p - left), pb = Math.Abs(p - up), pc = Math.Abs(p - upLeft);
                return (byte)(pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft);
        }
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Update(Crc32.Update(0, typeBytes), data));
        output.Write(word);
    }
}
