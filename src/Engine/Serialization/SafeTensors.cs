using System.Buffers.Binary;
using System.Text.Json;

namespace Tessera.Engine.Serialization;

/// <summary>One named tensor of a safetensors file: dtype, shape and little-endian raw bytes.</summary>
public sealed record SafeTensorEntry(DType DType, int[] Shape, byte[] Data);

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// mapping each name to {dtype, shape, data_offsets} (plus an optional "__metadata__" string
/// map), then the raw tensor bytes. PyTorch users read our checkpoints with
/// <c>safetensors.torch.load_file</c>; our golden fixtures use the same container.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100L << 20;

    public static (Dictionary<string, SafeTensorEntry> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"safetensors: no file at '{path}'", path);
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Parse(bytes);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"safetensors: '{path}' is not a valid safetensors file ({e.Message}); it may be truncated or corrupt", e);
        }
    }

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

    /// <summary>Writes atomically: a temp file in the same folder, then a rename, so a crash never leaves half a file.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 })
            header["__metadata__"] = metadata;
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
                foreach (var name in order) stream.Write(tensors[name].Data);
                stream.Flush(flushToDisk: true);
            }
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
