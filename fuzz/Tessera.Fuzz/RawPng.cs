using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Tessera.Fuzz;

/// <summary>
/// Assembles an 8-bit PNG from raw (already filtered) scanline bytes, chunk by chunk, with correct
/// CRCs: for fuzz seeds and decoder tests that need files no encoder writes (odd colour types,
/// chosen row filters, huge declared sizes). Also compiled into Tessera.Tests.
/// </summary>
internal static class RawPng
{
    /// <summary>Signature, IHDR (bit depth 8), the zlib-compressed <paramref name="raw"/> as IDAT, the <paramref name="extra"/> chunks, IEND.</summary>
    public static byte[] Build(int width, int height, byte colourType, byte[] raw, params (string Type, byte[] Data)[] extra)
    {
        using var output = new MemoryStream();
        output.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = colourType;
        Chunk(output, "IHDR", header);
        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
                zlib.Write(raw);
            Chunk(output, "IDAT", compressed.ToArray());
        }
        foreach (var (type, data) in extra) Chunk(output, type, data);
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void Chunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        output.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, System.IO.Hashing.Crc32.HashToUInt32(typed));
        output.Write(word);
    }
}
