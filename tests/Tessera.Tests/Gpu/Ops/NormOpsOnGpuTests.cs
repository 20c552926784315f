using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>
/// Batch norm (plain, evaluation, SyncBN) and the layer/group-norm core as Functional ops on
/// cuda-emu against the same ops on the CPU: outputs, running statistics and gradients.
/// </summary>
public sealed class NormOpsOnGpuTests
{
    private static readonly Device Emu = Device.Parse("cuda-emu");

    private static float[] Random(int count, ulong seed) => Tensor.Randn([count], new Generator(seed)).ToArray();

    private static void Close(float[] expected, Tensor actual, string what, float tolerance = 2e-6f)
    {
        Assert.Equal(Emu, actual.Device);
        GpuTestSupport.AssertClose(expected, actual.ToArray(), tolerance, tolerance, what);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNormMatchesCpu(bool training)
    {
        int[] shape = [3, 4, 2, 5];
        float[] x = Random(120, 1), gradOutput = Random(120, 2), weight = Random(4, 3), bias = Random(4, 4);
        float[] runningMean = Random(4, 5), runningVar = Random(4, 6).Select(v => v * v + 0.5f).ToArray();
        Tensor[] Run(Device device)
        {
            var input = Tensor.FromArray(x, shape).To(device).RequireGrad();
            var w = Tensor.FromArray(weight).To(device).RequireGrad();
            var b = Tensor.FromArray(bias).To(device).RequireGrad();
            var rm = Tensor.FromArray(runningMean).To(device);
            var rv = Tensor.FromArray(runningVar).To(device);
            var y = F.BatchNorm(input, rm, rv, w, b, training, momentum: 0.3f, eps: 1e-3f);
            y.Backward(Tensor.FromArray(gradOutput, shape).To(device));
            return [y, rm, rv, input.Grad!, w.Grad!, b.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        string[] names = ["output", "running mean", "running var", "grad input", "grad weight", "grad bias"];
        for (int i = 0; i < cpu.Length; i++)
            Close(cpu[i].ToArray(), gpu[i], $"batch_norm (training {training}) {names[i]}", 1e-5f);
    }

    [Fact]
    public async Task SyncBatchNormOnTwoEmulatedReplicasMatchesOneBatch()
    {
        const int channels = 3;
        int[] shapeA = [2, channels, 4], shapeB = [3, channels, 4];
        float[] a = Random(24, 11), b = Random(36, 12).Select(v => v * 2f + 1f).ToArray();
        float[] gradA = Random(24, 13), gradB = Random(36, 14), weight = Random(channels, 15), bias = Random(channels, 16);
        var group = new InProcessBatchStatisticsGroup(2, TimeSpan.FromSeconds(60));
        var replicas = new[] { (a, shapeA, gradA), (b, shapeB, gradB) }.Select((r, rank) => Task.Factory.StartNew(() =>
        {
            var x = Tensor.FromArray(r.Item1, r.Item2).To(Emu).RequireGrad();
            var w = Tensor.FromArray(weight).To(Emu).RequireGrad();
            var bi = Tensor.FromArray(bias).To(Emu).RequireGrad();
            var rm = Tensor.Zeros([channels], DType.Float32, Emu);
            var rv = Tensor.Zeros([channels], DType.Float32, Emu);
            var y = F.BatchNorm(x, rm, rv, w, bi, training: true, momentum: 0.2f, reducer: group.Replica(rank));
            y.Backward(Tensor.FromArray(r.Item3, r.Item2).To(Emu));
            return (Y: y, X: x, W: w, B: bi, Rm: rm, Rv: rv);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        var results = await Task.WhenAll(replicas);

        var input = Tensor.FromArray([.. a, .. b], 5, channels, 4).RequireGrad();
        var wc = Tensor.FromArray(weight).RequireGrad();
        var bc = Tensor.FromArray(bias).RequireGrad();
        var runningMean = Tensor.Zeros(channels);
        var runningVar = Tensor.Zeros(channels);
        var yc = F.BatchNorm(input, runningMean, runningVar, wc, bc, training: true, momentum: 0.2f);
        yc.Backward(Tensor.FromArray([.. gradA, .. gradB], 5, channels, 4));

        var (r0, r1) = (results[0], results[1]);
        Close(yc.ToArray(), F.Cat([r0.Y.To(Device.Cpu), r1.Y.To(Device.Cpu)], 0).To(Emu), "SyncBN output", 1e-5f);
        Close(input.Grad!.ToArray(), F.Cat([r0.X.Grad!.To(Device.Cpu), r1.X.Grad!.To(Device.Cpu)], 0).To(Emu), "SyncBN grad input", 1e-5f);
        Close(runningMean.ToArray(), r0.Rm, "SyncBN running mean", 1e-5f);
        Close(runningVar.ToArray(), r1.Rv, "SyncBN running var", 1e-5f);
        // Weight and bias gradients are each replica's own share; their sum is the single-batch gradient.
        float[] gradWeight = r0.W.Grad!.ToArray().Zip(r1.W.Grad!.ToArray(), (p, q) => p + q).ToArray();
        float[] gradBias = r0.B.Grad!.ToArray().Zip(r1.B.Grad!.ToArray(), (p, q) => p + q).ToArray();
        GpuTestSupport.AssertClose(wc.Grad!.ToArray(), gradWeight, 1e-5f, 1e-5f, "SyncBN grad weight (summed over replicas)");
        GpuTestSupport.AssertClose(bc.Grad!.ToArray(), gradBias, 1e-5f, 1e-5f, "SyncBN grad bias (summed over replicas)");
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void LayerNormWithFusedAffineMatchesCpu(bool hasWeight, bool hasBias)
    {
        int[] shape = [70, 3, 8];     // 70 rows: three row splits of the weight/bias gradient
        float[] x = Random(1680, 51), gradOutput = Random(1680, 52), weight = Random(24, 53), bias = Random(24, 54);
        Tensor[] Run(Device device)
        {
            var input = Tensor.FromArray(x, shape).To(device).RequireGrad();
            var w = hasWeight ? Tensor.FromArray(weight, 3, 8).To(device).RequireGrad() : null;
            var b = hasBias ? Tensor.FromArray(bias, 3, 8).To(device).RequireGrad() : null;
            var y = F.LayerNorm(input, [3, 8], w, b, eps: 1e-5f);
            y.Backward(Tensor.FromArray(gradOutput, shape).To(device));
            return [y, input.Grad!, .. w is null ? Array.Empty<Tensor>() : [w.Grad!], .. b is null ? Array.Empty<Tensor>() : [b.Grad!]];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        Assert.Equal(cpu.Length, gpu.Length);
        for (int i = 0; i < cpu.Length; i++)
            Close(cpu[i].ToArray(), gpu[i], $"layer_norm (weight {hasWeight}, bias {hasBias}) tensor {i}", 1e-5f);
    }

    [Theory]
    [InlineData(3, true, true)]
    [InlineData(1, true, false)]
    [InlineData(6, false, true)]
    public void GroupNormWithFusedAffineMatchesCpu(int groups, bool hasWeight, bool hasBias)
    {
        int[] shape = [3, 6, 5, 7];
        float[] x = Random(630, 61), gradOutput = Random(630, 62), weight = Random(6, 63), bias = Random(6, 64);
        Tensor[] Run(Device device)
        {
            var input = Tensor.FromArray(x, shape).To(device).RequireGrad();
            var w = hasWeight ? Tensor.FromArray(weight).To(device).RequireGrad() : null;
            var b = hasBias ? Tensor.FromArray(bias).To(device).RequireGrad() : null;
            var y = F.GroupNorm(input, groups, w, b, eps: 1e-5f);
            y.Backward(Tensor.FromArray(gradOutput, shape).To(device));
            return [y, input.Grad!, .. w is null ? Array.Empty<Tensor>() : [w.Grad!], .. b is null ? Array.Empty<Tensor>() : [b.Grad!]];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        Assert.Equal(cpu.Length, gpu.Length);
        for (int i = 0; i < cpu.Length; i++)
            Close(cpu[i].ToArray(), gpu[i], $"group_norm ({groups} groups, weight {hasWeight}, bias {hasBias}) tensor {i}", 1e-5f);
    }

    [Theory]
    [InlineData("layer_norm")]
    [InlineData("group_norm")]
    public void RowNormalisationMatchesCpu(string op)
    {
        int[] shape = [2, 6, 3, 4];
        float[] x = Random(144, 21), gradOutput = Random(144, 22);
        Tensor[] Run(Device device)
        {
            var input = Tensor.FromArray(x, shape).To(device).RequireGrad();
            var y = op == "layer_norm" ? F.LayerNorm(input, [3, 4], eps: 1e-4f) : F.GroupNorm(input, 3, eps: 1e-4f);
            y.Backward(Tensor.FromArray(gradOutput, shape).To(device));
            return [y, input.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        Close(cpu[0].ToArray(), gpu[0], $"{op} output");
        Close(cpu[1].ToArray(), gpu[1], $"{op} grad input");
    }

    [Theory]
    [InlineData("normalize", 1)]
    [InlineData("normalize", -1)]
    [InlineData("normalize_tiny", 1)]     // norms below eps: the clamp blocks the norm's gradient
    [InlineData("cosine", 1)]
    [InlineData("cosine", 2)]
    [InlineData("cosine_tiny", 2)]        // norms below eps: PyTorch 1.13's leaky gradient
    public void NormalizeAndCosineSimilarityMatchCpu(string op, int dim)
    {
        int[] shape = [3, 40, 5];
        float scale = op.EndsWith("_tiny", StringComparison.Ordinal) ? 1e-9f : 1f;
        float[] a = Random(600, 41).Select(v => v * scale).ToArray(), b = Random(600, 42), gradOutput = Random(600, 43);
        a[7] = 0f;
        Tensor[] Run(Device device)
        {
            var x1 = Tensor.FromArray(a, shape).To(device).RequireGrad();
            var x2 = Tensor.FromArray(b, shape).To(device).RequireGrad();
            var y = op.StartsWith("normalize", StringComparison.Ordinal) ? F.Normalize(x1, dim, eps: 1e-6f) : F.CosineSimilarity(x1, x2, dim, eps: 1e-6f);
            y.Backward(Tensor.FromArray(gradOutput[..y.Numel], y.ShapeArray).To(device));
            return op.StartsWith("normalize", StringComparison.Ordinal) ? [y, x1.Grad!] : [y, x1.Grad!, x2.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(Emu);
        for (int i = 0; i < cpu.Length; i++)
        {
            Assert.Equal(cpu[i].ShapeArray, gpu[i].ShapeArray);
            float[] expected = cpu[i].ToArray();
            float magnitude = expected.Max(MathF.Abs);
            Close(expected, gpu[i], $"{op} dim {dim} tensor {i}", 2e-6f * Math.Max(1f, magnitude));
        }
    }

    [Fact]
    public void MixedDevicesAreRejected()
    {
        var x = Tensor.FromArray(Random(24, 31), 4, 3, 2).To(Emu);
        var error = Assert.Throws<TensorDeviceException>(() => F.BatchNorm(x, null, null, Tensor.Ones(3), null, training: true));
        Assert.Contains("cuda-emu", error.Message, StringComparison.Ordinal);
    }
}
