using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Tessera.Models.Data.World;

/// <summary>
/// The optional on-disk cache: a shard holds a run of consecutive scenes of one (source, split,
/// seed, size) with every annotation, so larger runs can generate once and re-read. Images are
/// stored as 8-bit like real datasets (so a cached batch differs from a generated one by at most
/// half a grey level). Layout: "TSHARD01", int64 little-endian header length, a JSON header (key and
/// per-scene labels), then images u8 [N, 3, S, S], instance u8 [N, S, S], semantic u8 [N, S, S],
/// depth f32 [N, S, S]. Written to a temp file and renamed, so a crash never leaves half a shard.
/// </summary>
public sealed class SceneShard
{
    private static readonly byte[] s_magic = "TSHARD01"u8.ToArray();

    private SceneShard(ShardHeader header, byte[] images, byte[] instance, byte[] semantic, float[] depth)
    {
        Header = header;
        Images = images;
        Instance = instance;
        Semantic = semantic;
        Depth = depth;
    }

    public ShardHeader Header { get; }
    public byte[] Images { get; }
    public byte[] Instance { get; }
    public byte[] Semantic { get; }
    public float[] Depth { get; }

    public int Count => Header.Count;

    /// <summary>Per-scene labels kept in the header.</summary>
    public sealed record ShardScene(int Class, int SceneType, string Caption, bool[] Tags, float[][] Boxes, int[] BoxLabels);

    public sealed record ShardHeader(string Format, int Version, string Source, string Split, ulong Seed, int Size, long Start, int Count, ShardScene[] Scenes);

    /// <summary>Generates scenes [start, start + count) and writes them to <paramref name="path"/>.</summary>
    public static void Write(string path, WorldSource source, string split, ulong seed, int size, long start, int count)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        int plane = size * size;
        var images = new byte[count * 3 * plane];
        var instance = new byte[count * plane];
        var semantic = new byte[count * plane];
        var depth = new byte[count * plane * 4];
        var scenes = new ShardScene[count];
        var buffers = new SceneBuffers(size);
        for (int n = 0; n < count; n++)
        {
            var scene = WorldGenerator.Generate(source, split, start + n, seed, size, buffers);
            for (int i = 0; i < 3 * plane; i++) images[n * 3 * plane + i] = (byte)MathF.Round(buffers.Image[i] * 255f);
            buffers.Instance.CopyTo(instance, n * plane);
            buffers.Semantic.CopyTo(semantic, n * plane);
            for (int i = 0; i < plane; i++) BinaryPrimitives.WriteSingleLittleEndian(depth.AsSpan((n * plane + i) * 4), buffers.Depth[i]);
            scenes[n] = new ShardScene(source.ClassOf(scene.Layout), scene.SceneTypeIndex, scene.Caption, scene.Tags.ToArray(),
                scene.Boxes.Select(b => new[] { b.X1, b.Y1, b.X2, b.Y2 }).ToArray(), scene.Objects.Select(o => (int)o.Shape).ToArray());
        }
        var header = new ShardHeader("tessera-shard", 1, source.Name, split, seed, size, start, count, scenes);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        string full = Path.GetFullPath(path), temp = full + ".tmp-" + Environment.ProcessId;
        using (var file = File.Create(temp))
        {
            file.Write(s_magic);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, json.Length);
            file.Write(length);
            file.Write(json);
            file.Write(images);
            file.Write(instance);
            file.Write(semantic);
            file.Write(depth);
        }
        File.Move(temp, full, overwrite: true);
    }

    public static SceneShard Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"scene shard not found: {path}", path);
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 16 || !bytes.AsSpan(0, 8).SequenceEqual(s_magic))
            throw new InvalidDataException($"{path}: not a Tessera scene shard (expected the magic TSHARD01)");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        if (headerLength <= 0 || 16 + headerLength > bytes.Length)
            throw new InvalidDataException($"{path}: shard header length {headerLength} does not fit the file ({bytes.Length} bytes)");
        ShardHeader header;
        try
        {
            header = JsonSerializer.Deserialize<ShardHeader>(bytes.AsSpan(16, (int)headerLength))
                     ?? throw new InvalidDataException($"{path}: empty shard header");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed shard header ({e.Message})", e);
        }
        if (header.Format != "tessera-shard" || header.Version != 1)
            throw new InvalidDataException($"{path}: shard format {header.Format} v{header.Version}, expected tessera-shard v1");
        int plane = header.Size * header.Size, count = header.Count;
        long expected = 16 + headerLength + (long)count * plane * (3 + 1 + 1 + 4);
        if (bytes.Length != expected || header.Scenes.Length != count)
            throw new InvalidDataException($"{path}: shard of {count} scenes of {header.Size}x{header.Size} should be {expected} bytes, found {bytes.Length} (truncated?)");
        int offset = 16 + (int)headerLength;
        byte[] Take(int length)
        {
            var part = bytes.AsSpan(offset, length).ToArray();
            offset += length;
            return part;
        }
        var images = Take(count * 3 * plane);
        var instance = Take(count * plane);
        var semantic = Take(count * plane);
        var depth = new float[count * plane];
        for (int i = 0; i < depth.Length; i++) depth[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset + 4 * i));
        return new SceneShard(header, images, instance, semantic, depth);
    }

    /// <summary>A batch of cached scenes (positions within the shard) with the same tensors as <see cref="WorldBatch.Create"/>.</summary>
    public WorldBatch Batch(IReadOnlyList<int> positions, int captionLength = 16, ImageNormalisation? normalisation = null)
    {
        ArgumentNullException.ThrowIfNull(positions);
        var source = WorldSources.Get(Header.Source);
        int size = Header.Size, plane = size * size;
        return WorldBatch.Pack(source, size, positions.Count, captionLength, normalisation, (b, sink) =>
        {
            int n = positions[b];
            if ((uint)n >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(positions), n, $"the shard holds {Count} scenes");
            var info = Header.Scenes[n];
            for (int i = 0; i < 3 * plane; i++) sink.Image[i] = Images[n * 3 * plane + i] / 255f;
            Semantic.AsSpan(n * plane, plane).CopyTo(sink.Semantic);
            Depth.AsSpan(n * plane, plane).CopyTo(sink.Depth);
            return new WorldBatch.Labels(info.Class, info.Tags, info.Caption,
                info.Boxes.Select(v => new Box(v[0], v[1], v[2], v[3])).ToArray(), info.BoxLabels, Scene.CleanTagsOf(info.BoxLabels));
        });
    }
}
