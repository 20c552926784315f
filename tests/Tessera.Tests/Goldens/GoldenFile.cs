using Xunit;
using System.Text.Json;
using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Serialization;

namespace Tessera.Tests.Goldens;

/// <summary>One case of a golden family: op name, JSON args, and its named tensors (see tools/goldens/common.py).</summary>
public sealed class GoldenCase
{
    private readonly Dictionary<string, SafeTensorEntry> _tensors;

    internal GoldenCase(string family, JsonElement json, Dictionary<string, SafeTensorEntry> tensors)
    {
        Family = family;
        Name = json.GetProperty("name").GetString()!;
        Op = json.GetProperty("op").GetString()!;
        Args = json.GetProperty("args").Clone();
        GradNames = json.GetProperty("grads").EnumerateArray().Select(e => e.GetString()!).ToArray();
        _tensors = tensors;
    }

    public string Family { get; }
    public string Name { get; }
    public string Op { get; }
    public JsonElement Args { get; }
    public IReadOnlyList<string> GradNames { get; }

    public bool Has(string key) => _tensors.ContainsKey($"{Name}/{key}");

    /// <summary>A fresh tensor for key ("in.x", "out.y", "grad.x", "gout.y").</summary>
    public Tensor Tensor(string key) =>
        global::Tessera.Autograd.Tensor.FromEntry(_tensors.TryGetValue($"{Name}/{key}", out var entry) ? entry
            : throw new KeyNotFoundException($"golden case {Family}/{Name} has no tensor '{key}'"));

    public IEnumerable<string> Keys(string prefix) =>
        _tensors.Keys.Where(k => k.StartsWith($"{Name}/{prefix}", StringComparison.Ordinal)).Select(k => k[(Name.Length + 1 + prefix.Length)..]).Order(StringComparer.Ordinal);

    public int Int(string name) => Args.GetProperty(name).GetInt32();
    public float Float(string name) => Args.GetProperty(name).GetSingle();
    public bool Bool(string name) => Args.TryGetProperty(name, out var v) && v.GetBoolean();
    public string? String(string name) => Args.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    public bool HasArg(string name) => Args.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;
    public int[] Ints(string name) => Args.GetProperty(name).ValueKind == JsonValueKind.Array
        ? Args.GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray()
        : [Args.GetProperty(name).GetInt32()];

    public override string ToString() => $"{Family}/{Name}";
}

/// <summary>Loads tests/goldens/&lt;family&gt;.safetensors (copied next to the test assembly).</summary>
public static class GoldenFile
{
    private static readonly Dictionary<string, IReadOnlyList<GoldenCase>> Cache = new();
    private static readonly Lock Gate = new();

    public static IReadOnlyList<GoldenCase> Load(string family)
    {
        lock (Gate)
        {
            if (Cache.TryGetValue(family, out var cached)) return cached;
            string path = Path.Combine(AppContext.BaseDirectory, "goldens", family + ".safetensors");
            if (!File.Exists(path))
                throw new FileNotFoundException($"golden fixture '{family}' is missing at {path}; run /usr/bin/python3 tools/goldens/generate.py and commit tests/goldens/", path);
            var (tensors, metadata) = SafeTensors.Read(path);
            using var doc = JsonDocument.Parse(metadata["cases"]);
            var cases = doc.RootElement.EnumerateArray().Select(e => new GoldenCase(family, e, tensors)).ToList();
            Cache[family] = cases;
            return cases;
        }
    }

    /// <summary>xunit member data: one row per case name.</summary>
    public static TheoryData<string> CaseNames(string family, string? opPrefix = null)
    {
        var data = new TheoryData<string>();
        foreach (var c in Load(family))
            if (opPrefix is null || c.Op.StartsWith(opPrefix, StringComparison.Ordinal))
                data.Add(c.Name);
        return data;
    }

    public static GoldenCase Get(string family, string name) =>
        Load(family).FirstOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"no golden case {family}/{name}");
}
