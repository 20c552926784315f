using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Tessera.Engine;
using Tessera.Engine.Serialization;
using Tessera.Models.Data.Images;
using Tessera.Models.Data.Mnist;

namespace Tessera.Fuzz;

/// <summary>
/// Writes the generated seed files of fuzz/corpus (`Tessera.Fuzz --write-seeds fuzz/corpus`):
/// small valid inputs of each binary format, so afl++ starts from files that get deep into each
/// parser. Recipe and PTX seeds are copied from recipes/ and the kernel compiler's output by run.sh.
/// </summary>
public static class Seeds
{
    public static void Write(string corpus)
    {
        WriteSafeTensors(Path.Combine(corpus, "safetensors"));
        WriteIdx(Path.Combine(corpus, "idx"));
        WriteImages(Path.Combine(corpus, "image"));
    }

    private static void WriteSafeTensors(string folder)
    {
        Directory.CreateDirectory(folder);
        static SafeTensorEntry Floats(int[] shape, params float[] values)
        {
            var bytes = new byte[values.Length * 4];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
            return new SafeTensorEntry(DType.Float32, shape, bytes);
        }
        SafeTensors.Write(Path.Combine(folder, "weights.safetensors"), new Dictionary<string, SafeTensorEntry>
        {
            ["conv.weight"] = Floats([2, 3], 1, -2, 0.5f, 3, 0, -1),
            ["conv.bias"] = Floats([2], 0.25f, -0.25f),
        }, new Dictionary<string, string> { ["tessera.step"] = "12" });
        SafeTensors.Write(Path.Combine(folder, "mixed.safetensors"), new Dictionary<string, SafeTensorEntry>
        {
            ["ids"] = new(DType.Int64, [2], [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]),
            ["mask"] = new(DType.Bool, [3], [1, 0, 1]),
            ["count"] = new(DType.Int32, [], [7, 0, 0, 0]),
            ["empty"] = new(DType.Float32, [0, 4], []),
        });
        // Without digests, as other safetensors writers produce: the header is plain JSON.
        string header = """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}""";
        var plain = new byte[8 + header.Length + 8];
        BinaryPrimitives.WriteInt64LittleEndian(plain, header.Length);
        Encoding.ASCII.GetBytes(header).CopyTo(plain, 8);
        File.WriteAllBytes(Path.Combine(folder, "no-digests.safetensors"), plain);
    }

    private static void WriteIdx(string folder)
    {
        Directory.CreateDirectory(folder);
        IdxReader.Write(Path.Combine(folder, "images.idx"), [2, 3, 3], Enumerable.Range(0, 18).Select(i => (byte)(i * 14)).ToArray());
        IdxReader.Write(Path.Combine(folder, "labels.idx"), [5], [0, 9, 3, 3, 1]);
        IdxReader.Write(Path.Combine(folder, "labels.idx.gz"), [4], [7, 2, 1, 0]);
    }

    private static void WriteImages(string folder)
    {
        Directory.CreateDirectory(folder);
        // A gradient makes the encoder choose several row filters.
        var rgb = new byte[4 * 3 * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 7 % 256);
        File.WriteAllBytes(Path.Combine(folder, "rgb.png"), ImageCodec.EncodePng(rgb, 4, 3));
        File.WriteAllBytes(Path.Combine(folder, "rgb.jpg"), ImageCodec.EncodeJpeg(rgb, 4, 3));
        File.WriteAllBytes(Path.Combine(folder, "grey.png"), Png(3, 2, colourType: 0, channels: 1, filters: [1, 2]));
        File.WriteAllBytes(Path.Combine(folder, "grey-alpha.png"), Png(2, 2, colourType: 4, channels: 2, filters: [3, 4]));
        File.WriteAllBytes(Path.Combine(folder, "rgba.png"), Png(2, 3, colourType: 6, channels: 4, filters: [0, 4, 3]));
    }

    /// <summary>A small 8-bit PNG of the colour type with the given row filters (bytes are arbitrary residuals).</summary>
    private static byte[] Png(int width, int height, byte colourType, int channels, byte[] filters)
    {
        var raw = new List<byte>();
        for (int y = 0; y < height; y++)
        {
            raw.Add(filters[y]);
            for (int x = 0; x < width * channels; x++) raw.Add((byte)(y * 31 + x * 17));
        }
        return RawPng.Build(width, height, colourType, raw.ToArray(), ("tEXt", Encoding.ASCII.GetBytes("Comment\0fuzz seed")));
    }
}
