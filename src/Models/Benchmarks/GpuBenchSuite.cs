using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Random;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Benchmarks;

/// <summary>
/// GPU benchmarks for <c>tessera bench --device cuda</c> (and tools/bench/gpu_compare.py, whose PyTorch
/// side has the same names and shapes): the GEMM and convolution kernels through the Functional ops.
/// Every timed run ends with a device synchronise, so the time is the kernels' and not just their launch.
/// On cuda-emu only the small *_smoke cases are practical (the emulator runs ~10 MFLOP/s).
/// </summary>
public static class GpuBenchSuite
{
    /// <summary>The GPU cases on <paramref name="device"/> (a cuda or cuda-emu device); inputs are built when a case is prepared.</summary>
    public static IReadOnlyList<BenchCase> For(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!device.IsGpu)
            throw new ArgumentException($"GPU benchmarks: expected a cuda or cuda-emu device, found '{device}'; run the CPU suite without --device", nameof(device));
        var cases = new List<BenchCase>
        {
            new("gpu_sgemm_smoke", "C = A·B, 64×64 by 64×64 (a check of the bench path, sized for the emulator)", 2.0 * 64 * 64 * 64, () => Matmul(device, 64, 64, 64, false, false)),
        };
        foreach (int n in new[] { 1024, 2048, 4096, 8192 })
            cases.Add(new BenchCase($"gpu_sgemm_{n}", $"C = A·B, {n}×{n} by {n}×{n}", 2.0 * n * n * n, () => Matmul(device, n, n, n, false, false)));
        cases.Add(new BenchCase("gpu_sgemm_4096x4096x4096_nt", "A·Bᵀ through a transposed view", 2.0 * 4096 * 4096 * 4096, () => Matmul(device, 4096, 4096, 4096, false, true)));
        cases.Add(new BenchCase("gpu_sgemm_4096x4096x4096_tn", "Aᵀ·B through a transposed view", 2.0 * 4096 * 4096 * 4096, () => Matmul(device, 4096, 4096, 4096, true, false)));
        cases.Add(new BenchCase("gpu_bmm_64x256x256x64", "batched [64, 256, 64] · [64, 64, 256] (attention-score shape)", 2.0 * 64 * 256 * 256 * 64, () => Bmm(device, 64, 256, 256, 64)));
        (string Name, int Channels, int Size, int Filters, int Kernel, int Stride, int Groups)[] layers =
        [
            ("32x64x56_64k3s1", 64, 56, 64, 3, 1, 1),
            ("32x128x28_128k3s1", 128, 28, 128, 3, 1, 1),
            ("32x256x14_256k3s1", 256, 14, 256, 3, 1, 1),
            ("32x64x56_256k1s1", 64, 56, 256, 1, 1, 1),
            ("32x3x112_64k7s2", 3, 112, 64, 7, 2, 1),
            ("32x64x56_64dw3s1", 64, 56, 64, 3, 1, 64),
        ];
        foreach (var (name, channels, size, filters, kernel, stride, groups) in layers)
        {
            int padding = kernel / 2;
            int outSize = (size + 2 * padding - kernel) / stride + 1;
            double flops = 2.0 * 32 * filters * outSize * outSize * (channels / groups) * kernel * kernel;
            string shape = $"[32, {channels}, {size}, {size}] * [{filters}, {channels / groups}, {kernel}, {kernel}], stride {stride}, groups {groups}";
            cases.Add(new BenchCase($"gpu_conv_fwd_{name}", "conv2d forward " + shape, flops, () => Conv(device, channels, size, filters, kernel, stride, padding, groups, backward: false)));
            cases.Add(new BenchCase($"gpu_conv_fwdbwd_{name}", "conv2d forward + backward " + shape, 3 * flops, () => Conv(device, channels, size, filters, kernel, stride, padding, groups, backward: true)));
        }
        // Flash attention (tools/bench/gpu_attention.py times the same names in PyTorch). Causal
        // attention needs about half the work; flops count what the kernels need.
        cases.Add(new BenchCase("gpu_attn_fwd_smoke", "attention forward, B1 H2 T40 D16 (a check of the bench path, sized for the emulator)", 4.0 * 2 * 40 * 40 * 16, () => Attention(device, 1, 2, 40, 16, false, backward: false)));
        foreach (var (batch, heads, tokens, dim, causal) in new[] { (8, 4, 256, 64, false), (4, 8, 1024, 64, false), (4, 8, 1024, 64, true), (1, 16, 4096, 64, true), (4, 8, 1024, 128, false) })
        {
            string name = $"b{batch}h{heads}t{tokens}d{dim}{(causal ? "_causal" : "")}";
            double flops = 4.0 * batch * heads * tokens * tokens * dim * (causal ? 0.5 : 1.0);
            cases.Add(new BenchCase($"gpu_attn_fwd_{name}", "attention forward " + name, flops, () => Attention(device, batch, heads, tokens, dim, causal, backward: false)));
            // The backward recomputes the scores: about 14 matmul-flops per score against the forward's 4.
            cases.Add(new BenchCase($"gpu_attn_fwdbwd_{name}", "attention forward + backward " + name, 4.5 * flops, () => Attention(device, batch, heads, tokens, dim, causal, backward: true)));
        }
        return cases;
    }

    private static Action Attention(Device device, int batch, int heads, int tokens, int dim, bool causal, bool backward)
    {
        var generator = new Generator(3);
        var q = Randn(device, generator, batch, heads, tokens, dim);
        var k = Randn(device, generator, batch, heads, tokens, dim);
        var v = Randn(device, generator, batch, heads, tokens, dim);
        var gradOutput = Randn(device, generator, batch, heads, tokens, dim);
        q.RequiresGrad = k.RequiresGrad = v.RequiresGrad = backward;
        var context = GpuContext.For(device);
        return () =>
        {
            using (new TensorScope())
            {
                var y = F.ScaledDotProductAttention(q, k, v, isCausal: causal);
                if (backward)
                {
                    y.Backward(gradOutput);
                    foreach (var leaf in new[] { q, k, v })
                    {
                        leaf.Grad?.Dispose();
                        leaf.Grad = null;
                    }
                }
            }
            context.Driver.Synchronize();
        };
    }

    private static Tensor Randn(Device device, Generator generator, params int[] shape)
    {
        using var host = Tensor.Randn(shape, generator);
        return host.To(device);
    }

    private static Action Matmul(Device device, int m, int n, int k, bool transposeA, bool transposeB)
    {
        var generator = new Generator(1);
        var a = transposeA ? Randn(device, generator, k, m).T : Randn(device, generator, m, k);
        var b = transposeB ? Randn(device, generator, n, k).T : Randn(device, generator, k, n);
        var context = GpuContext.For(device);
        return () =>
        {
            using (var c = F.Matmul(a, b)) { }
            context.Driver.Synchronize();
        };
    }

    private static Action Bmm(Device device, int batch, int m, int n, int k)
    {
        var generator = new Generator(3);
        var a = Randn(device, generator, batch, m, k);
        var b = Randn(device, generator, batch, k, n);
        var context = GpuContext.For(device);
        return () =>
        {
            using (var c = F.Bmm(a, b)) { }
            context.Driver.Synchronize();
        };
    }

    /// <summary>Forward, or forward and backward with an all-ones output gradient (input and weight gradients).</summary>
    private static Action Conv(Device device, int channels, int size, int filters, int kernel, int stride, int padding, int groups, bool backward)
    {
        var generator = new Generator(2);
        var x = Randn(device, generator, 32, channels, size, size);
        var w = Randn(device, generator, filters, channels / groups, kernel, kernel);
        x.RequiresGrad = backward;
        w.RequiresGrad = backward;
        var context = GpuContext.For(device);
        int outSize = (size + 2 * padding - kernel) / stride + 1;
        var gradOutput = Tensor.Full([32, filters, outSize, outSize], 1f, device);
        return () =>
        {
            using (new TensorScope())
            {
                var y = F.Conv2d(x, w, null, stride, padding, 1, groups);
                if (backward)
                {
                    y.Backward(gradOutput);
                    foreach (var leaf in new[] { x, w })
                    {
                        leaf.Grad?.Dispose();
                        leaf.Grad = null;
                    }
                }
            }
            context.Driver.Synchronize();
        };
    }
}
