using BenchmarkDotNet.Attributes;
using Tessera.Autograd;
using Tessera.Engine.Random;
using F = Tessera.Autograd.Functional;

namespace Tessera.Benchmarks;

/// <summary>Square SGEMM through the public matmul op (the CPU-performance issue adds the PyTorch side-by-side table).</summary>
[MemoryDiagnoser]
public class MatmulBenchmarks
{
    private Tensor _a = null!;
    private Tensor _b = null!;

    [Params(256, 512)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var generator = new Generator(1);
        _a = Tensor.Randn([Size, Size], generator);
        _b = Tensor.Randn([Size, Size], generator);
    }

    [Benchmark]
    public void Matmul()
    {
        using var result = F.Matmul(_a, _b);
    }
}

/// <summary>Broadcast add and a reduction: the elementwise/reduction paths over TensorPrimitives.</summary>
[MemoryDiagnoser]
public class ElementwiseBenchmarks
{
    private Tensor _x = null!;
    private Tensor _bias = null!;

    [GlobalSetup]
    public void Setup()
    {
        var generator = new Generator(2);
        _x = Tensor.Randn([64, 256, 28, 28], generator);
        _bias = Tensor.Randn([256, 1, 1], generator);
    }

    [Benchmark]
    public void BroadcastAdd()
    {
        using var result = _x + _bias;
    }

    [Benchmark]
    public void SumOverChannels()
    {
        using var result = F.Sum(_x, [0, 2, 3]);
    }
}
