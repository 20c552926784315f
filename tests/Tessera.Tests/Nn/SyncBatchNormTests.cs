using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Nn;

/// <summary>SyncBatchNorm on two virtual devices (threads) equals one BatchNorm2d over the union of their batches.</summary>
public sealed class SyncBatchNormTests
{
    [Fact]
    public async Task TwoReplicasMatchBatchNormOverTheUnion()
    {
        var generator = new Generator(11);
        // Replicas see different batch sizes and spatial sizes do not have to match across tasks, only channels.
        var parts = new[] { Tensor.Randn([2, 3, 4, 4], generator) * 2f + 1f, Tensor.Randn([3, 3, 4, 4], generator) - 0.5f };
        var gradients = new[] { Tensor.Randn([2, 3, 4, 4], generator), Tensor.Randn([3, 3, 4, 4], generator) };
        var weight = Tensor.Randn([3], generator);
        var bias = Tensor.Randn([3], generator);

        // Reference: one BatchNorm2d over the concatenated batch.
        var reference = new BatchNorm2d(3);
        reference.LoadStateDict(new Dictionary<string, Tensor> { ["weight"] = weight, ["bias"] = bias }, strict: false);
        var union = Functional.Cat(parts, 0).Detach().RequireGrad();
        var expected = reference.Forward(union);
        Functional.Sum(expected * Functional.Cat(gradients, 0)).Backward();

        var group = new InProcessBatchStatisticsGroup(2, TimeSpan.FromSeconds(30));
        var replicas = new SyncBatchNorm[2];
        var inputs = new Tensor[2];
        var outputs = new Tensor[2];
        for (int r = 0; r < 2; r++)
        {
            replicas[r] = new SyncBatchNorm(3, group.Replica(r));
            replicas[r].LoadStateDict(new Dictionary<string, Tensor> { ["weight"] = weight, ["bias"] = bias }, strict: false);
            inputs[r] = parts[r].Detach().RequireGrad();
        }
        await Task.WhenAll(Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            outputs[r] = replicas[r].Forward(inputs[r]);
            Functional.Sum(outputs[r] * gradients[r]).Backward();
        })));

        var tolerance = new Tolerance(1e-5f, 1e-4f);
        GoldenRunner.AssertClose(Functional.Cat(outputs, 0), expected, tolerance, "syncbn/two-replicas out.y");
        GoldenRunner.AssertClose(Functional.Cat([inputs[0].Grad!, inputs[1].Grad!], 0), union.Grad!, tolerance, "syncbn/two-replicas grad.x");
        // Each replica's weight gradient is its share; their sum is the union's gradient.
        GoldenRunner.AssertClose(replicas[0].Weight!.Grad! + replicas[1].Weight!.Grad!, reference.Weight!.Grad!, tolerance, "syncbn/two-replicas grad.weight");
        GoldenRunner.AssertClose(replicas[0].Bias!.Grad! + replicas[1].Bias!.Grad!, reference.Bias!.Grad!, tolerance, "syncbn/two-replicas grad.bias");
        for (int r = 0; r < 2; r++)
        {
            GoldenRunner.AssertClose(replicas[r].RunningMean!, reference.RunningMean!, tolerance, $"syncbn/two-replicas out.running_mean{r}");
            GoldenRunner.AssertClose(replicas[r].RunningVar!, reference.RunningVar!, tolerance, $"syncbn/two-replicas out.running_var{r}");
        }
    }

    [Fact]
    public void ASingleReplicaGroupIsPlainBatchNorm()
    {
        var x = Tensor.Randn([4, 2, 3, 3], new Generator(12));
        var sync = new SyncBatchNorm(2, new InProcessBatchStatisticsGroup(1).Replica(0));
        var plain = new BatchNorm2d(2);
        GoldenRunner.AssertClose(sync.Forward(x), plain.Forward(x), Tolerance.Tight, "syncbn/single-replica out.train");
        sync.Eval();
        plain.Eval();
        GoldenRunner.AssertClose(sync.Forward(x), plain.Forward(x), Tolerance.Tight, "syncbn/single-replica out.eval");
    }

    [Fact]
    public async Task VirtualDevicesSharingOneModelSynchroniseThroughTheScope()
    {
        var generator = new Generator(13);
        var parts = new[] { Tensor.Randn([2, 3, 5, 5], generator) + 2f, Tensor.Randn([4, 3, 3, 3], generator) * 0.5f };
        var gradients = new[] { Tensor.Randn([2, 3, 5, 5], generator), Tensor.Randn([4, 3, 3, 3], generator) };
        // Spatial sizes differ, so the union is taken over flattened positions: [N, C, H·W] per part.
        var flat = parts.Select(p => p.Reshape(p.Size(0), 3, 1, -1)).ToArray();
        var reference = new BatchNorm2d(3);
        var referenceInputs = flat.Select(f => f.Detach().RequireGrad()).ToArray();
        // One BatchNorm over both parts' positions: concatenate along the spatial axis per channel.
        var unionInput = Functional.Cat([referenceInputs[0].Permute(1, 0, 2, 3).Reshape(1, 3, 1, -1), referenceInputs[1].Permute(1, 0, 2, 3).Reshape(1, 3, 1, -1)], 3);
        var unionOutput = reference.Forward(unionInput);
        var unionGradient = Functional.Cat([gradients[0].Reshape(2, 3, 1, -1).Permute(1, 0, 2, 3).Reshape(1, 3, 1, -1), gradients[1].Reshape(4, 3, 1, -1).Permute(1, 0, 2, 3).Reshape(1, 3, 1, -1)], 3);
        Functional.Sum(unionOutput * unionGradient).Backward();

        var shared = new BatchNorm2d(3);
        foreach (var p in shared.Parameters()) p.RequiresGrad = false; // concurrent leaf accumulation is the trainer's business
        var group = new InProcessBatchStatisticsGroup(2, TimeSpan.FromSeconds(30));
        var inputs = parts.Select(p => p.Detach().RequireGrad()).ToArray();
        var outputs = new Tensor[2];
        await Task.WhenAll(Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            using (SyncBatchNormScope.Use(group.Replica(r), updateRunningStatistics: r == 0))
            {
                outputs[r] = shared.Forward(inputs[r]);
                Functional.Sum(outputs[r] * gradients[r]).Backward();
            }
        })));
        Assert.Null(SyncBatchNormScope.CurrentReducer);

        var tolerance = new Tolerance(1e-5f, 1e-4f);
        var expectedOutput = unionOutput.Reshape(3, -1).ToArray();
        var expectedGrad = referenceInputs.Select(r => r.Grad!).ToArray();
        GoldenRunner.AssertClose(inputs[0].Grad!.Reshape(2, 3, 1, -1), expectedGrad[0], tolerance, "syncbn/shared grad.x0");
        GoldenRunner.AssertClose(inputs[1].Grad!.Reshape(4, 3, 1, -1), expectedGrad[1], tolerance, "syncbn/shared grad.x1");
        var union = Functional.Cat([outputs[0].Permute(1, 0, 2, 3).Reshape(3, -1), outputs[1].Permute(1, 0, 2, 3).Reshape(3, -1)], 1);
        GoldenRunner.AssertClose(union, Tensor.FromArray(expectedOutput, 3, expectedOutput.Length / 3), tolerance, "syncbn/shared out.y");
        // Updated once (by rank 0), exactly as the single BatchNorm over the union.
        Assert.Equal(1L, shared.NumBatchesTracked!.Item<long>());
        GoldenRunner.AssertClose(shared.RunningMean!, reference.RunningMean!, tolerance, "syncbn/shared out.running_mean");
        GoldenRunner.AssertClose(shared.RunningVar!, reference.RunningVar!, tolerance, "syncbn/shared out.running_var");
    }

    [Fact]
    public void ConvertPointsEveryBatchNormOfAModelAtTheReducer()
    {
        var model = new Tessera.Models.Nn.Backbones.ResNet(Tessera.Models.Nn.Backbones.ResNetBlock.Bottleneck, [1, 1], [4, 8], numClasses: 0, stemChannels: 8);
        var reducer = new InProcessBatchStatisticsGroup(1).Replica(0);
        Assert.Equal(model.NamedModules().Count(m => m.Module is BatchNorm2d), SyncBatchNorm.Convert(model, reducer));
        Assert.All(model.NamedModules().Select(m => m.Module).OfType<BatchNorm2d>(), bn => Assert.Same(reducer, bn.Reducer));
        var keys = model.StateDict().Keys.ToList();
        SyncBatchNorm.Convert(model, null);
        Assert.Equal(keys, model.StateDict().Keys);
    }
}
