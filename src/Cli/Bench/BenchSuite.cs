using Tessera.Autograd;
using Tessera.Engine.Random;
using F = Tessera.Autograd.Functional;

namespace Tessera.Cli.Bench;

/// <summary>
/// The benchmark registry that <c>tessera bench</c> and tools/bench/compare.py enumerate. Names and
/// shapes match the PyTorch side (tools/bench/torch_bench.py) one for one.
/// </summary>
public static class BenchSuite
{
    public static IReadOnlyList<BenchCase> All { get; } = Build();

    private static List<BenchCase> Build()
    {
        var cases = new List<BenchCase>();
        foreach (int n in new[] { 256, 512, 1024, 2048 })
            cases.Add(new BenchCase($"sgemm_{n}", $"C = A·B, {n}×{n} by {n}×{n}", 2.0 * n * n * n, () => Matmul(n, n, n, false, false)));
        // Linear-layer shapes of a ViT-tiny MLP at batch 64 × 64 tokens: forward and both backward products.
        cases.Add(new BenchCase("sgemm_4096x192x768", "x·W: 4096×192 by 192×768 (linear forward)", 2.0 * 4096 * 192 * 768, () => Matmul(4096, 768, 192, false, false)));
        cases.Add(new BenchCase("sgemm_4096x768x192_nt", "dY·Wᵀ: 4096×768 by (192×768)ᵀ (linear grad-input)", 2.0 * 4096 * 192 * 768, () => Matmul(4096, 192, 768, false, true)));
        cases.Add(new BenchCase("sgemm_192x4096x768_tn", "xᵀ·dY: (4096×192)ᵀ by 4096×768 (linear grad-weight)", 2.0 * 4096 * 192 * 768, () => Matmul(192, 768, 4096, true, false)));
        return cases;
    }

    /// <summary>m×k times k×n with optional transposed operands (read through a transposed view, no copy).</summary>
    private static Action Matmul(int m, int n, int k, bool transposeA, bool transposeB)
    {
        var generator = new Generator(1);
        var a = transposeA ? Tensor.Randn([k, m], generator).T : Tensor.Randn([m, k], generator);
        var b = transposeB ? Tensor.Randn([n, k], generator).T : Tensor.Randn([k, n], generator);
        return () =>
        {
            using var c = F.Matmul(a, b);
        };
    }
}
