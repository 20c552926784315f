using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Embedding, gather, scatter_add, index_select, cat, stack, split, chunk, pad, roll and flip against tools/goldens/gen_indexing.py.</summary>
public sealed class IndexingGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("indexing");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("indexing", name);
        // Every op here copies or adds a handful of floats: forward is exact, and gradients
        // differ only by summation order where indices repeat.
        GoldenRunner.Run(golden, Run, ToleranceFor(golden.Op));
    }

    /// <summary>The same cases on cuda-emu (gradients of repeated indices add up through float atomics).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void OnEmulatedGpu(string name)
    {
        var golden = GoldenFile.Get("indexing", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden.Op), null, Device.Parse("cuda-emu"));
    }

    /// <summary>The same cases on a real GPU (skipped with the reason when there is none).</summary>
    [Tessera.Tests.Gpu.CudaTheory]
    [MemberData(nameof(Cases))]
    public void OnCuda(string name)
    {
        var golden = GoldenFile.Get("indexing", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden.Op), null, Device.Parse("cuda"));
    }

    private static Tolerance ToleranceFor(string op) => op is "scatter_add" or "embedding" or "index_select" or "gather" or "pad"
        ? Tolerance.Default
        : new Tolerance(0f, 0f);

    private static Tensor[] Run(GoldenCase c, IReadOnlyDictionary<string, Tensor> t)
    {
        Tensor In(string key) => t[key];
        Tensor[] Parts() => t.Keys.Where(k => k.StartsWith('t')).OrderBy(k => int.Parse(k[1..], System.Globalization.CultureInfo.InvariantCulture)).Select(k => t[k]).ToArray();
        return c.Op switch
        {
            "embedding" => [F.Embedding(In("indices"), In("weight"), c.HasArg("padding_idx") ? c.Int("padding_idx") : null)],
            "gather" => [F.Gather(In("x"), c.Int("dim"), In("index"))],
            "scatter_add" => [F.ScatterAdd(In("x"), c.Int("dim"), In("index"), In("src"))],
            "index_select" => [F.IndexSelect(In("x"), c.Int("dim"), In("index"))],
            "cat" => [F.Cat(Parts(), c.Int("dim"))],
            "stack" => [F.Stack(Parts(), c.Int("dim"))],
            "split" => c.HasArg("sizes") ? F.Split(In("x"), c.Ints("sizes"), c.Int("dim")) : F.Split(In("x"), c.Int("split_size"), c.Int("dim")),
            "chunk" => F.Chunk(In("x"), c.Int("chunks"), c.Int("dim")),
            "pad" => [F.Pad(In("x"), c.Ints("pads"), Enum.Parse<PaddingMode>(c.String("mode")!, ignoreCase: true), c.Float("value"))],
            "roll" => [F.Roll(In("x"), c.Ints("shifts"), c.HasArg("dims") ? c.Ints("dims") : null)],
            "flip" => [F.Flip(In("x"), c.Ints("dims"))],
            _ => throw new InvalidOperationException($"indexing golden op '{c.Op}' has no runner"),
        };
    }
}
