using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text.Json;

namespace Tessera.Engine.Serialization;

/// <summary>One named tensor of a safetensors file: dtype, shape and little-endian raw bytes.</summary>
public sealed record SafeTensorEntry(DType DType, int[] Shape, byte[] Data);

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// mapping each name to {dtype, shape, data_offsets} (plus an optional "__metadata__" string
/// map), then the raw tensor bytes. PyTorch users read our checkpoints with
/// <c>safetensors.torch.load_file</c>; our golden fixtures use the same container.
/// <para>
/// Integrity: <see cref="Write"/> stores an XXH128 digest of every tensor's bytes in the metadata
/// (key <see cref="DigestKey"/>, a JSON map name → 32 hex digits; other readers ignore it), and
/// <see cref="Read(string)"/> checks them, so flipped bytes are an error that names the tensor instead of
/// weights loaded silently. Files without digests (older Tessera, other tools) still load;
/// <see cref="Verify(string)"/> tells the two apart.
/// </para>
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100L << 20;

    /// <summary>The metadata key of the per-tensor digests.</summary>
    public const string DigestKey = "tessera.xxh128";

    public static (Dictionary<string, SafeTensorEntry> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"safetensors: no file at '{path}'", path);
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>
    /// Parses and verifies the bytes of a safetensors file (<paramref name="name"/> names it in
    /// errors). Any malformed or corrupt input is an <see cref="InvalidDataException"/>.
    /// </summary>
    public static (Dictionary<string, SafeTensorEntry> Tensors, Dictionary<string, string> Metadata) Read(byte[] bytes, string name)
    {
        var file = ParseChecked(bytes, name, "it may be truncated or corrupt");
        var corrupt = CorruptTensors(file.Tensors, file.Metadata);
        if (corrupt is { Count: > 0 })
            throw new InvalidDataException(CorruptMessage(name, corrupt));
        return file;
    }

    private static (Dictionary<string, SafeTensorEntry> Tensors, Dictionary<string, string> Metadata) ParseChecked(byte[] bytes, string name, string hint)
    {
        try
        {
            return Parse(bytes);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"safetensors: '{name}' is not a valid safetensors file ({e.Message}); {hint}", e);
        }
    }

    /// <summary>The error for a file whose tensors do not match their digests: names the file and the tensor, says what to do.</summary>
    public static string CorruptMessage(string path, IReadOnlyList<string> tensors) =>
        $"safetensors: '{path}' is corrupt: {(tensors.Count == 1 ? "tensor" : $"{tensors.Count} tensors, the first")} '{tensors[0]}' does not match the digest written with it " +
        "(its bytes changed after it was saved); do not use it: restore the file from a copy, or start the run again (tessera train ... --overwrite)";

    public static (Dictionary<string, SafeTensorEntry> Tensors, Dictionary<string, string> Metadata) Parse(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 8)
            throw new InvalidDataException($"file is {bytes.Length} bytes, shorter than the 8-byte header length");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > bytes.Length)
            throw new InvalidDataException($"header length {headerLength} does not fit a file of {bytes.Length} bytes");
        long dataStart = 8 + headerLength;
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var tensors = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in header.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                foreach (var item in property.Value.EnumerateObject())
                    metadata[item.Name] = item.Value.GetString() ?? "";
                continue;
            }
            var dtype = ParseDType(property.Value.GetProperty("dtype").GetString());
            int[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || dataStart + offsets[1] > bytes.Length)
                throw new InvalidDataException($"tensor '{property.Name}' has data offsets [{string.Join(", ", offsets)}] outside the {bytes.Length - dataStart} data bytes");
            long expected = (long)Shapes.Numel(shape) * dtype.ElementSize();
            if (offsets[1] - offsets[0] != expected)
                throw new InvalidDataException($"tensor '{property.Name}' of shape {Shapes.Format(shape)} {dtype.Name()} needs {expected} bytes, found {offsets[1] - offsets[0]}");
            tensors[property.Name] = new SafeTensorEntry(dtype, shape, bytes.AsSpan((int)(dataStart + offsets[0]), (int)expected).ToArray());
        }
        return (tensors, metadata);
    }

    /// <summary>What <see cref="Verify(string)"/> found.</summary>
    /// <param name="HasDigests">False for files written without digests (nothing could be checked).</param>
    /// <param name="TensorCount">Tensors in the file.</param>
    /// <param name="Corrupt">Tensors whose bytes do not match their digest (or that lack one in a file that has digests).</param>
    public sealed record DigestReport(bool HasDigests, int TensorCount, IReadOnlyList<string> Corrupt);

    /// <summary>
    /// Checks every tensor of <paramref name="path"/> against its stored digest; never throws for a
    /// mismatch (it is listed), only for a file that is not safetensors at all.
    /// </summary>
    public static DigestReport Verify(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"safetensors: no file at '{path}'", path);
        return Verify(File.ReadAllBytes(path), path);
    }

    /// <summary>As <see cref="Verify(string)"/>, for the bytes of a file named <paramref name="name"/> in errors.</summary>
    public static DigestReport Verify(byte[] bytes, string name)
    {
        var file = ParseChecked(bytes, name, "it is truncated or corrupt");
        var corrupt = CorruptTensors(file.Tensors, file.Metadata);
        return new DigestReport(corrupt is not null, file.Tensors.Count, corrupt ?? []);
    }

    /// <summary>XXH128 of a tensor's bytes as 32 lowercase hex digits.</summary>
    public static string Digest(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(XxHash128.Hash(data));

    /// <summary>The tensors whose bytes do not match the stored digests; null where the file has none.</summary>
    private static List<string>? CorruptTensors(Dictionary<string, SafeTensorEntry> tensors, Dictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(DigestKey, out var json))
            return null;
        Dictionary<string, string> digests;
        try
        {
            digests = JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];
        }
        catch (JsonException)
        {
            return tensors.Keys.Order(StringComparer.Ordinal).ToList(); // the digest table itself is damaged
        }
        var corrupt = new List<string>();
        foreach (var (name, entry) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
            if (!digests.TryGetValue(name, out var expected) || !string.Equals(expected, Digest(entry.Data), StringComparison.Ordinal))
                corrupt.Add(name);
        return corrupt;
    }

    /// <summary>Writes atomically: a temp file in the same folder, then a rename, so a crash never leaves half a file.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        var withDigests = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [DigestKey] = JsonSerializer.Serialize(new SortedDictionary<string, string>(
                tensors.ToDictionary(t => t.Key, t => Digest(t.Value.Data)), StringComparer.Ordinal)),
        };
        header["__metadata__"] = withDigests;
        long offset = 0;
        var order = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        foreach (var name in order)
        {
            var entry = tensors[name];
            long expected = (long)Shapes.Numel(entry.Shape) * entry.DType.ElementSize();
            if (entry.Data.Length != expected)
                throw new ArgumentException($"safetensors: tensor '{name}' of shape {Shapes.Format(entry.Shape)} needs {expected} bytes, found {entry.Data.Length}", nameof(tensors));
            header[name] = new { dtype = DTypeName(entry.DType), shape = entry.Shape, data_offsets = new[] { offset, offset + entry.Data.Length } };
            offset += entry.Data.Length;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padding = (8 - json.Length % 8) % 8;
        string fullPath = Path.GetFullPath(path);
        string temp = fullPath + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(length, json.Length + padding);
                stream.Write(length);
                stream.Write(json);
                for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
                for (int t = 0; t < order.Length; t++)
                {
                    if (t == order.Length / 2) WritePause.Wait();
                    stream.Write(tensors[order[t]].Data);
                }
                stream.Flush(flushToDisk: true);
            }
            WritePause.Wait();
            File.Move(temp, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static DType ParseDType(string? name) => name switch
    {
        "F32" => DType.Float32,
        "I32" => DType.Int32,
        "I64" => DType.Int64,
        "BOOL" => DType.Bool,
        _ => throw new InvalidDataException($"dtype '{name}' is not supported (expected F32, I32, I64 or BOOL)"),
    };

    private static string DTypeName(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Int32 => "I32",
        DType.Int64 => "I64",
        DType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}

/// <summary>
/// A testing hook for kill tests (tools/reliability/kill9.sh): with TESSERA_TEST_WRITE_PAUSE_MS
/// set, every safetensors write pauses that long halfway through its tensors and again before
/// its rename, so a kill at a random moment lands inside a write often. Unset (always, outside
/// such tests) it costs one static read.
/// </summary>
internal static class WritePause
{
    private static readonly int Milliseconds =
        int.TryParse(Environment.GetEnvironmentVariable("TESSERA_TEST_WRITE_PAUSE_MS"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int ms) ? ms : 0;

    public static void Wait()
    {
        if (Milliseconds > 0) Thread.Sleep(Milliseconds);
    }
}
