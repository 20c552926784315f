using BenchmarkDotNet.Attributes;
using Tessera.Models.Benchmarks;

namespace Tessera.Benchmarks;

/// <summary>
/// Every case of the shared benchmark registry (<see cref="BenchSuite"/>: SGEMM shapes, the conv
/// layers, attention, RoIAlign, Gumbel routing, training steps) under BenchmarkDotNet, so the
/// statistically careful numbers and <c>tessera bench</c>'s quick table time the same code.
/// <c>dotnet run -c Release --project benchmarks/Tessera.Benchmarks -- --filter '*SuiteBenchmarks*'</c>
/// </summary>
[MemoryDiagnoser]
public class SuiteBenchmarks
{
    private Action _run = null!;

    public static IEnumerable<string> Names => BenchSuite.All.Select(c => c.Name);

    [ParamsSource(nameof(Names))]
    public string Name { get; set; } = "";

    [GlobalSetup]
    public void Setup() => _run = BenchSuite.All.Single(c => c.Name == Name).Prepare();

    [Benchmark]
    public void Run() => _run();
}
