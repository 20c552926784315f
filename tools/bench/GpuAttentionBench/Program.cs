// The Tessera side of tools/bench/gpu_attention.py: times Functional.ScaledDotProductAttention
// (the flash-attention kernels) on a CUDA device, forward and forward + backward, and prints one
// JSON line per case: {"bench", "ms", "tflops"}. Shapes and names match the PyTorch side.
//   dotnet run -c Release --project tools/bench/GpuAttentionBench -- [--device cuda] [--seconds 1] [--smoke]
// --smoke runs one tiny case on any device (cuda-emu included) to check the harness itself.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Random;
using F = Tessera.Autograd.Functional;

string deviceName = "cuda";
double seconds = 1.0;
bool smoke = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--device": deviceName = args[++i]; break;
        case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--smoke": smoke = true; break;
        default:
            Console.Error.WriteLine($"gpu-attention-bench: unknown argument '{args[i]}'; expected --device NAME, --seconds S or --smoke");
            return 2;
    }
}
var device = Device.Parse(deviceName);
if (!GpuContext.IsAvailable(device, out string reason))
{
    Console.Error.WriteLine($"gpu-attention-bench: device '{deviceName}' is not usable: {reason}. This benchmark needs an NVIDIA GPU with the CUDA driver (or --device cuda-emu --smoke to check the harness).");
    return 3;
}
var context = GpuContext.For(device);

(int Batch, int Heads, int Tokens, int Dim, bool Causal)[] shapes = smoke
    ? [(1, 2, 40, 16, false)]
    : [(8, 4, 256, 64, false), (4, 8, 1024, 64, false), (4, 8, 1024, 64, true), (1, 16, 4096, 64, true), (4, 8, 1024, 128, false)];
foreach (var (batch, heads, tokens, dim, causal) in shapes)
{
    string name = $"b{batch}h{heads}t{tokens}d{dim}{(causal ? "_causal" : "")}";
    // Causal attention does about half the work; flops count what the kernels need, as PyTorch's benchmarks do.
    double forwardFlops = 4.0 * batch * heads * tokens * tokens * dim * (causal ? 0.5 : 1.0);
    var generator = new Generator(3);
    var q = Tensor.Randn([batch, heads, tokens, dim], generator).To(device).Detach();
    var k = Tensor.Randn([batch, heads, tokens, dim], generator).To(device).Detach();
    var v = Tensor.Randn([batch, heads, tokens, dim], generator).To(device).Detach();
    var gradOutput = Tensor.Randn([batch, heads, tokens, dim], generator).To(device);
    Report($"attn_fwd_{name}", forwardFlops, () =>
    {
        using (GradMode.NoGrad())
            F.ScaledDotProductAttention(q, k, v, isCausal: causal);
    });
    q.RequiresGrad = k.RequiresGrad = v.RequiresGrad = true;
    Report($"attn_fwdbwd_{name}", forwardFlops * 4.5, () =>   // backward recomputes: 14 vs 4 matmul-flops per score
    {
        F.ScaledDotProductAttention(q, k, v, isCausal: causal).Backward(gradOutput);
        q.Grad = k.Grad = v.Grad = null;
    });
}
return 0;

void Report(string name, double flops, Action step)
{
    int warmup = smoke ? 1 : 3;
    for (int i = 0; i < warmup; i++)
        step();
    context.Driver.Synchronize();
    var times = new List<double>();
    var total = Stopwatch.StartNew();
    while (times.Count < (smoke ? 1 : 5) || (total.Elapsed.TotalSeconds < seconds && times.Count < 1000))
    {
        var watch = Stopwatch.StartNew();
        step();
        context.Driver.Synchronize();
        times.Add(watch.Elapsed.TotalMilliseconds);
    }
    times.Sort();
    double median = times[times.Count / 2];
    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["bench"] = name,
        ["ms"] = Math.Round(median, 4),
        ["tflops"] = Math.Round(flops / (median * 1e-3) / 1e12, 3),
        ["device"] = device.ToString(),
    }));
}
