using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Nn;

/// <summary>Train()/Eval() switch dropout, drop path and batch norm, down the whole module tree.</summary>
public sealed class TrainEvalTests
{
    [Fact]
    public void DropoutDropsAndRescalesInTrainingOnly()
    {
        var dropout = new Dropout(0.5f, new Generator(1));
        var x = Tensor.Ones(1000);
        var train = dropout.Forward(x).ToArray();
        Assert.All(train, v => Assert.True(v == 0f || v == 2f));
        Assert.InRange(train.Count(v => v == 0f), 400, 600);
        dropout.Eval();
        Assert.Same(x, dropout.Forward(x));
    }

    [Fact]
    public void DropPathDropsWholeSamplesInTrainingOnly()
    {
        var dropPath = new DropPath(0.5f, new Generator(2));
        var x = Tensor.Ones(64, 3, 4);
        var y = dropPath.Forward(x);
        int dropped = 0;
        for (int b = 0; b < 64; b++)
        {
            var sample = y.Select(0, b).ToArray();
            Assert.True(sample.All(v => v == 0f) || sample.All(v => v == 2f), $"sample {b} was partly dropped");
            if (sample[0] == 0f) dropped++;
        }
        Assert.InRange(dropped, 16, 48);
        dropPath.Eval();
        Assert.Equal(x.ToArray(), dropPath.Forward(x).ToArray());
    }

    [Fact]
    public void BatchNormUsesBatchStatisticsInTrainingAndRunningOnesInEval()
    {
        var bn = new BatchNorm2d(2, momentum: 0.5f);
        var x = Tensor.Randn([4, 2, 3, 3], new Generator(3)) * 3f + 5f;
        var train = bn.Forward(x);
        // Training output is normalised per channel with the batch statistics.
        Assert.Equal(0f, train.Mean([0, 2, 3]).ToArray()[0], 4);
        Assert.Equal(1L, bn.NumBatchesTracked!.Item<long>());
        var batchMean = x.Mean([0, 2, 3]).ToArray();
        var runningMean = bn.RunningMean!.ToArray();
        for (int c = 0; c < 2; c++) Assert.Equal(0.5f * batchMean[c], runningMean[c], 4);

        bn.Eval();
        var runningVar = bn.RunningVar!.ToArray();
        var eval = bn.Forward(x).ToArray();
        var input = x.ToArray();
        for (int i = 0; i < input.Length; i++)
        {
            int c = i / 9 % 2;
            Assert.Equal((input[i] - runningMean[c]) / MathF.Sqrt(runningVar[c] + 1e-5f), eval[i], 3);
        }
        // Evaluation leaves the running statistics alone.
        Assert.Equal(runningMean, bn.RunningMean.ToArray());
        Assert.Equal(1L, bn.NumBatchesTracked.Item<long>());
    }

    [Fact]
    public void ModelEvalIsDeterministicAndTrainIsStochastic()
    {
        var vit = new VisionTransformer(imageSize: 16, patchSize: 4, embedDim: 16, depth: 2, numHeads: 2, numClasses: 3, dropout: 0.3f, dropPathRate: 0.5f, generator: new Generator(4));
        var images = Tensor.Randn([4, 3, 16, 16], new Generator(5));
        Assert.NotEqual(vit.Forward(images).ToArray(), vit.Forward(images).ToArray());
        vit.Eval();
        Assert.All(vit.NamedModules(), m => Assert.False(m.Module.Training));
        Assert.Equal(vit.Forward(images).ToArray(), vit.Forward(images).ToArray());
        vit.Train();
        Assert.True(vit.Blocks[1].DropPath.Training);
    }

    [Fact]
    public void ResNetEvalDoesNotTouchRunningStatistics()
    {
        var resnet = new ResNet(ResNetBlock.Basic, [1, 1], [4, 8], numClasses: 2, stemChannels: 4, generator: new Generator(6));
        var images = Tensor.Randn([2, 3, 16, 16], new Generator(7));
        resnet.Forward(images);
        var before = resnet.StateDict().Where(p => p.Key.Contains("running_", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value.ToArray());
        Assert.Contains(before, p => p.Value.Any(v => v != 0f && v != 1f));
        resnet.Eval();
        resnet.Forward(images);
        foreach (var (key, values) in before)
            Assert.Equal(values, resnet.StateDict()[key].ToArray());
    }

    [Fact]
    public void AttentionDropoutIsActiveInTrainingOnly()
    {
        var withDropout = new MultiheadAttention(8, 2, dropout: 0.5f, generator: new Generator(8));
        var without = new MultiheadAttention(8, 2, generator: new Generator(9));
        without.LoadStateDict(withDropout.StateDict());
        var x = Tensor.Randn([2, 5, 8], new Generator(10));
        Assert.NotEqual(withDropout.Forward(x).ToArray(), without.Forward(x).ToArray());
        withDropout.Eval();
        GoldenRunner.AssertClose(withDropout.Forward(x), without.Forward(x), Tolerance.Tight, "nn-train-eval/mha out.eval");
    }

    [Fact]
    public void StateDictRoundTripCarriesRunningStatistics()
    {
        var source = new ResNet(ResNetBlock.Basic, [1, 1], [4, 8], numClasses: 2, stemChannels: 4, generator: new Generator(11));
        source.Forward(Tensor.Randn([2, 3, 16, 16], new Generator(12)));
        var target = new ResNet(ResNetBlock.Basic, [1, 1], [4, 8], numClasses: 2, stemChannels: 4, generator: new Generator(13));
        var (missing, unexpected) = target.LoadStateDict(source.StateDict());
        Assert.Empty(missing);
        Assert.Empty(unexpected);
        Assert.Equal(1L, target.StateDict()["layer2.0.bn1.num_batches_tracked"].Item<long>());
        Assert.Equal(source.StateDict()["layer1.0.bn2.running_var"].ToArray(), target.StateDict()["layer1.0.bn2.running_var"].ToArray());
        source.Eval();
        target.Eval();
        var images = Tensor.Randn([1, 3, 16, 16], new Generator(14));
        Assert.Equal(source.Forward(images).ToArray(), target.Forward(images).ToArray());
    }
}
