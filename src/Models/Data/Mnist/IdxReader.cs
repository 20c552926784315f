using System.Buffers.Binary;
using System.IO.Compression;

namespace Tessera.Models.Data.Mnist;

/// <summary>
/// Reads the IDX format of LeCun's MNIST files (and Fashion-MNIST's): a big-endian magic
/// 0x0000TTDD (TT = 0x08 for unsigned bytes, DD = number of dimensions), the dimension sizes, then
/// the data. Gzipped files (the usual *.gz downloads) are recognised by their magic bytes.
/// </summary>
public static class IdxReader
{
    /// <summary>Returns the dimensions and the unsigned-byte payload.</summary>
    public static (int[] Dimensions, byte[] Data) Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"IDX file not found: {path}", path);
        return Decode(File.ReadAllBytes(path), path);
    }

    /// <summary>
    /// The dimensions and payload of an IDX file's bytes, gzipped or not (<paramref name="name"/>
    /// names it in errors). Any malformed input is an <see cref="InvalidDataException"/>.
    /// </summary>
    public static (int[] Dimensions, byte[] Data) Decode(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
        {
            using var input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream();
            try
            {
                input.CopyTo(output);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{name}: the gzip stream is damaged ({e.Message})", e);
            }
            bytes = output.ToArray();
        }
        return Parse(bytes, name);
    }

    public static (int[] Dimensions, byte[] Data) Parse(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0)
            throw new InvalidDataException($"{name}: not an IDX file (expected the magic 00 00 08 NN at the start)");
        if (bytes[2] != 0x08)
            throw new InvalidDataException($"{name}: IDX element type 0x{bytes[2]:X2} is not supported (expected 0x08, unsigned bytes)");
        int rank = bytes[3];
        if (rank is < 1 or > 4 || bytes.Length < 4 + 4 * rank)
            throw new InvalidDataException($"{name}: IDX header claims {rank} dimensions but the file is {bytes.Length} bytes");
        var dims = new int[rank];
        long total = 1;
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(bytes[(4 + 4 * d)..]);
            if (dims[d] < 0) throw new InvalidDataException($"{name}: negative IDX dimension {dims[d]}");
            total *= dims[d];
        }
        int offset = 4 + 4 * rank;
        if (bytes.Length - offset != total)
            throw new InvalidDataException($"{name}: IDX dimensions [{string.Join(", ", dims)}] need {total} bytes of data, the file has {bytes.Length - offset} (truncated download?)");
        return (dims, bytes[offset..].ToArray());
    }

    /// <summary>Writes an IDX file of unsigned bytes, gzipped when the name ends in .gz (used to cut test subsets).</summary>
    public static void Write(string path, ReadOnlySpan<int> dimensions, ReadOnlySpan<byte> data)
    {
        using var buffer = new MemoryStream();
        buffer.Write([0, 0, 0x08, (byte)dimensions.Length]);
        Span<byte> word = stackalloc byte[4];
        foreach (int d in dimensions)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, d);
            buffer.Write(word);
        }
        buffer.Write(data);
        string temp = path + ".tmp";
        using (var file = File.Create(temp))
        {
            if (path.EndsWith(".gz", StringComparison.Ordinal))
            {
                using var gzip = new GZipStream(file, CompressionLevel.SmallestSize);
                buffer.Position = 0;
                buffer.CopyTo(gzip);
            }
            else
            {
                buffer.Position = 0;
                buffer.CopyTo(file);
            }
        }
        File.Move(temp, path, overwrite: true);
    }
}
