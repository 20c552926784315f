using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Optim;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Benchmarks;

/// <summary>
/// The benchmark registry that <c>tessera bench</c> and tools/bench/compare.py enumerate. Names and
/// shapes match the PyTorch side (tools/bench/torch_bench.py) one for one.
/// </summary>
public static partial class BenchSuite
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
        AddConvolutions(cases);
        AddAttention(cases);
        AddRoiAlign(cases);
        AddGumbelRouting(cases);
        AddTrainingSteps(cases);
        AddSystemTrainSteps(cases);
        return cases;
    }

    /// <summary>The spec's four conv layers plus a depthwise 3×3, batch 32; fwd+bwd counts 3× the forward flops.</summary>
    private static void AddConvolutions(List<BenchCase> cases)
    {
        (string Name, int Channels, int Size, int Filters, int Kernel, int Stride, int Groups)[] layers =
        [
            ("32x64x56_64k3s1", 64, 56, 64, 3, 1, 1),
            ("32x128x28_128k3s1", 128, 28, 128, 3, 1, 1),
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
            cases.Add(new BenchCase($"conv_fwd_{name}", "conv2d forward " + shape, flops, () => Conv(channels, size, filters, kernel, stride, padding, groups, backward: false)));
            cases.Add(new BenchCase($"conv_fwdbwd_{name}", "conv2d forward + backward " + shape, 3 * flops, () => Conv(channels, size, filters, kernel, stride, padding, groups, backward: true)));
        }
    }

    private static Action Conv(int channels, int size, int filters, int kernel, int stride, int padding, int groups, bool backward)
    {
        var generator = new Generator(2);
        var x = Tensor.Randn([32, channels, size, size], generator).RequireGrad(backward);
        var w = (Tensor.Randn([filters, channels / groups, kernel, kernel], generator) * 0.05f).RequireGrad(backward);
        return () => Step(() => F.Conv2d(x, w, null, stride, padding, 1, groups), backward, x, w);
    }

    /// <summary>Fused attention; flops count the two T×T products (4·B·H·T²·D), fwd+bwd 3× that.</summary>
    private static void AddAttention(List<BenchCase> cases)
    {
        foreach (var (batch, heads, tokens) in new[] { (8, 4, 256), (4, 8, 1024) })
        {
            string name = $"b{batch}h{heads}t{tokens}d64";
            double flops = 4.0 * batch * heads * tokens * tokens * 64;
            cases.Add(new BenchCase($"attn_fwd_{name}", $"scaled dot-product attention [{batch}, {heads}, {tokens}, 64]", flops, () => Attention(batch, heads, tokens, backward: false)));
            cases.Add(new BenchCase($"attn_fwdbwd_{name}", $"attention forward + backward [{batch}, {heads}, {tokens}, 64]", 3 * flops, () => Attention(batch, heads, tokens, backward: true)));
        }
    }

    private static Action Attention(int batch, int heads, int tokens, bool backward)
    {
        var generator = new Generator(3);
        var q = Tensor.Randn([batch, heads, tokens, 64], generator).RequireGrad(backward);
        var k = Tensor.Randn([batch, heads, tokens, 64], generator).RequireGrad(backward);
        var v = Tensor.Randn([batch, heads, tokens, 64], generator).RequireGrad(backward);
        return () => Step(() => F.ScaledDotProductAttention(q, k, v), backward, q, k, v);
    }

    /// <summary>
    /// 512 RoIs over a [2, 256, 50, 50] feature map (stride 4 of a 200×200 image), 7×7 output,
    /// sampling ratio 2, aligned. RoIs are drawn once from a fixed seed (same boxes on the PyTorch side).
    /// </summary>
    private static void AddRoiAlign(List<BenchCase> cases)
    {
        cases.Add(new BenchCase("roialign_fwd_512roi_256c_7x7", "roi_align [2, 256, 50, 50], 512 RoIs, 7x7, sampling 2, aligned", 0, () => RoiAlign(backward: false)));
        cases.Add(new BenchCase("roialign_fwdbwd_512roi_256c_7x7", "roi_align forward + backward, same shapes", 0, () => RoiAlign(backward: true)));
    }

    private static Action RoiAlign(bool backward)
    {
        var generator = new Generator(4);
        var features = Tensor.Randn([2, 256, 50, 50], generator).RequireGrad(backward);
        var boxes = BenchBoxes(512, 200f);
        return () => Step(() => F.RoiAlign(features, boxes, (7, 7), spatialScale: 0.25f, samplingRatio: 2, aligned: true), backward, features);
    }

    /// <summary>
    /// [count, 5] boxes (batch index, x1, y1, x2, y2) inside an imageSize square. A closed formula
    /// (fractional parts of multiples of the golden ratio), so tools/bench/torch_bench.py builds the same boxes.
    /// </summary>
    public static Tensor BenchBoxes(int count, float imageSize)
    {
        static double U(int k) => (k + 1) * 0.6180339887498949 % 1.0;
        var data = new float[count * 5];
        for (int i = 0; i < count; i++)
        {
            double x1 = U(4 * i) * imageSize * 0.8, y1 = U(4 * i + 1) * imageSize * 0.8;
            double w = 8 + U(4 * i + 2) * imageSize * 0.4, h = 8 + U(4 * i + 3) * imageSize * 0.4;
            data[5 * i] = i % 2;
            data[5 * i + 1] = (float)x1;
            data[5 * i + 2] = (float)y1;
            data[5 * i + 3] = (float)Math.Min(imageSize, x1 + w);
            data[5 * i + 4] = (float)Math.Min(imageSize, y1 + h);
        }
        return Tensor.FromArray(data, count, 5);
    }

    /// <summary>GPPF routing: Gumbel-softmax over 2 unit logits, then the weighted sum of two [32, 64, 28, 28] unit outputs; fwd+bwd.</summary>
    private static void AddGumbelRouting(List<BenchCase> cases)
    {
        cases.Add(new BenchCase("gumbel_route_combine_N2_32x64x28x28_fwdbwd", "gumbel_softmax over 2 units + sum_k u_k x_k of [32, 64, 28, 28], forward + backward", 0, () =>
        {
            var generator = new Generator(6);
            var logits = Tensor.Randn([2], generator).RequireGrad();
            var units = new[] { Tensor.Randn([32, 64, 28, 28], generator).RequireGrad(), Tensor.Randn([32, 64, 28, 28], generator).RequireGrad() };
            var noise = new Generator(7);
            return () => Step(() => F.RoutedCombine(F.GumbelSoftmax(logits, tau: 1f, generator: noise), units), true, [logits, .. units]);
        }));
    }

    /// <summary>
    /// Whole training steps (forward, cross-entropy, backward, optimiser step) at batch 64 of
    /// 3×64×64: the spec's small CNN (three conv-BN-ReLU blocks, SGD with momentum) and ViT-tiny
    /// (patch 8, dim 192, 6 layers, 3 heads, AdamW). tools/bench/torch_bench.py builds the same models.
    /// </summary>
    private static void AddTrainingSteps(List<BenchCase> cases)
    {
        cases.Add(new BenchCase("train_step_smallcnn_64x3x64x64", "training step: 3 conv-BN-ReLU blocks + linear, batch 64 of 3x64x64, SGD momentum", 0, () =>
        {
            var generator = new Generator(8);
            var model = SmallCnn(generator);
            return TrainStep(model, new Sgd(model.Parameters(), 0.01f, momentum: 0.9f), generator);
        }, ItemsPerRun: 64, CountParameters: () => SmallCnn(new Generator(8)).Parameters().Sum(p => (long)p.Numel)));
        cases.Add(new BenchCase("train_step_vit_tiny_p8_d192_L6_64x3x64x64", "training step: ViT-tiny (patch 8, dim 192, 6 layers, 3 heads), batch 64 of 3x64x64, AdamW", 0, () =>
        {
            var generator = new Generator(9);
            var model = VitTiny(generator);
            return TrainStep(model, new AdamW(model.Parameters(), 1e-3f), generator);
        }, ItemsPerRun: 64, CountParameters: () => VitTiny(new Generator(9)).Parameters().Sum(p => (long)p.Numel)));
    }

    private static Sequential SmallCnn(Generator generator) => new(
        new Conv2d(3, 32, 3, padding: 1, generator: generator), new BatchNorm2d(32), Lambda.Relu(), new MaxPool2d(2),
        new Conv2d(32, 64, 3, padding: 1, generator: generator), new BatchNorm2d(64), Lambda.Relu(), new MaxPool2d(2),
        new Conv2d(64, 128, 3, padding: 1, generator: generator), new BatchNorm2d(128), Lambda.Relu(),
        new Lambda("GlobalAvgPool", x => F.GlobalAvgPool2d(x).Flatten(1)), new Linear(128, 10, generator: generator));

    private static VisionTransformer VitTiny(Generator generator) =>
        new(imageSize: 64, patchSize: 8, embedDim: 192, depth: 6, numHeads: 3, numClasses: 10, generator: generator);

    private static Action TrainStep(Layer model, Optimizer optimizer, Generator generator)
    {
        var images = Tensor.Randn([64, 3, 64, 64], generator);
        var labels = Tensor.FromArray(Enumerable.Range(0, 64).Select(i => (long)(i * 7 % 10)).ToArray(), 64);
        model.Train();
        return () =>
        {
            using var scope = new TensorScope();
            optimizer.ZeroGrad();
            var loss = F.CrossEntropy(model.Forward(images), labels);
            AutogradEngine.Backward(loss, freeActivations: true);   // activations go back to the pool during backward, as in PyTorch
            optimizer.Step();
        };
    }

    /// <summary>Runs forward (and backward of sum(output · 1) when asked) inside a scope that returns every temporary.</summary>
    private static void Step(Func<Tensor> forward, bool backward, params Tensor[] leaves)
    {
        using var scope = new TensorScope();
        var output = forward();
        if (!backward) return;
        output.Backward(Tensor.OnesLike(output));
        foreach (var leaf in leaves)
        {
            leaf.Grad?.Dispose();
            leaf.Grad = null;
        }
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
