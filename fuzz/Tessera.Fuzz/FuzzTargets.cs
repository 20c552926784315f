using System.Text;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Serialization;
using Tessera.Models.Data.Images;
using Tessera.Models.Data.Mnist;
using Tessera.Models.Recipes;

namespace Tessera.Fuzz;

/// <summary>
/// One parser that reads outside input, as a fuzz target: <see cref="Parse"/> feeds it bytes, and
/// <see cref="Documented"/> lists the exception types its callers are told to expect for bad input.
/// Any other exception (or a crash, or a hang) is a bug.
/// </summary>
/// <param name="Name">The target's name: fuzz/corpus/NAME holds its seeds.</param>
/// <param name="Parse">Parses one input; throws a documented exception when the input is bad.</param>
/// <param name="Documented">The exception types bad input may raise (subclasses included).</param>
public sealed record FuzzTarget(string Name, Action<byte[]> Parse, Type[] Documented)
{
    /// <summary>
    /// Runs one input: true when it parsed, false when it was rejected with a documented
    /// exception; any other exception propagates (a finding).
    /// </summary>
    public bool Accepts(byte[] input)
    {
        try
        {
            Parse(input);
            return true;
        }
        catch (Exception e) when (Documented.Any(type => type.IsInstanceOfType(e)))
        {
            return false;
        }
    }
}

/// <summary>Every fuzzed parser (docs/RELIABILITY.md): the afl++ harness and the corpus-replay test both run these.</summary>
public static class FuzzTargets
{
    /// <summary>
    /// Recipe inputs: the JSON text, then optionally a NUL byte followed by key=value overrides,
    /// one per line (what `tessera train RECIPE key=value...` passes to the loader).
    /// </summary>
    private static void ParseRecipe(byte[] input)
    {
        string text = Encoding.UTF8.GetString(input);
        int split = text.IndexOf('\0', StringComparison.Ordinal);
        string json = split < 0 ? text : text[..split];
        string[] overrides = split < 0 ? [] : text[(split + 1)..].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        RecipeLoader.Parse(json, "fuzz.json", overrides);
    }

    /// <summary>PTX text: parsed into kernels as <c>cuModuleLoadData</c> on the emulator does, then each decoded as its first launch does.</summary>
    private static void ParsePtx(byte[] input)
    {
        foreach (var kernel in PtxParser.Parse(Encoding.UTF8.GetString(input)))
            PtxDecoder.Decode(kernel);
    }

    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new("safetensors", input => SafeTensors.Read(input, "fuzz.safetensors"), [typeof(InvalidDataException)]),
        new("recipe", ParseRecipe, [typeof(InvalidDataException), typeof(ArgumentException)]),
        new("idx", input => IdxReader.Decode(input, "fuzz.idx"), [typeof(InvalidDataException)]),
        new("ptx", ParsePtx, [typeof(PtxEmulatorException)]),
        // Tessera's wrapper around SkiaSharp (PNG, JPEG, WebP, ...): bad bytes are one documented type.
        new("image", input => ImageCodec.Decode(input), [typeof(ImageDecodeException)]),
    ];

    /// <summary>The target called <paramref name="name"/>; an error lists the names.</summary>
    public static FuzzTarget Find(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"fuzz: no target '{name}'; expected one of {string.Join(", ", All.Select(t => t.Name))}");
}
