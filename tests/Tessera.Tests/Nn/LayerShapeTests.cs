using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Xunit;

namespace Tessera.Tests.Nn;

/// <summary>Output shapes of every layer and block at two input sizes, and PyTorch's default initialisation.</summary>
public sealed class LayerShapeTests
{
    private static Tensor Randn(params int[] shape) => Tensor.Randn(shape, new Generator(5));

    [Theory]
    [InlineData(5, 7)]
    [InlineData(8, 8)]
    public void ConvTranspose2dFollowsTheOutputSizeFormula(int height, int width)
    {
        var layer = new ConvTranspose2d(4, 6, 3, stride: 2, padding: 1, outputPadding: 1, generator: new Generator(1));
        Assert.Equal([4, 6, 3, 3], layer.Weight.Shape.ToArray());
        var y = layer.Forward(Randn(2, 4, height, width));
        Assert.Equal([2, 6, 2 * height, 2 * width], y.Shape.ToArray());
        // Default init: bound 1/sqrt(fanIn) with fanIn from weight dim 1 (outChannels · k²), as torch.
        float bound = 1f / MathF.Sqrt(6 * 9);
        Assert.All(layer.Weight.ToArray(), v => Assert.InRange(v, -bound, bound));
        Assert.True(layer.Weight.ToArray().Max() > 0.8f * bound);
    }

    [Theory]
    [InlineData(2, 4)]
    [InlineData(3, 7)]
    public void NormLayersKeepShapeAndStartAsIdentityAffine(int batchSize, int size)
    {
        var x = Randn(batchSize, 6, size, size);
        Assert.Equal(x.Shape.ToArray(), new BatchNorm2d(6).Forward(x).Shape.ToArray());
        Assert.Equal(x.Shape.ToArray(), new GroupNorm(3, 6).Forward(x).Shape.ToArray());
        var tokens = Randn(batchSize, size, 6);
        var ln = new LayerNorm(6);
        var y = ln.Forward(tokens);
        Assert.Equal(tokens.Shape.ToArray(), y.Shape.ToArray());
        Assert.Equal(["weight", "bias"], ln.NamedParameters().Select(p => p.Name));
        Assert.All(ln.Weight!.ToArray(), v => Assert.Equal(1f, v));
        var bn = new BatchNorm2d(6);
        Assert.Equal(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"], bn.StateDict().Keys);
        Assert.Equal(["weight", "bias"], new GroupNorm(2, 6).StateDict().Keys);
    }

    [Fact]
    public void ContainersRegisterChildrenUnderTorchNames()
    {
        var list = new ModuleList<Linear>([new Linear(2, 3), new Linear(3, 4, bias: false)]);
        Assert.Equal(2, list.Count);
        Assert.Equal(["0.weight", "0.bias", "1.weight"], list.StateDict().Keys);
        var dict = new ModuleDict<Layer>().Add("cls", new Linear(4, 2)).Add("seg", new Conv2d(4, 3, 1));
        Assert.Equal(["cls.weight", "cls.bias", "seg.weight", "seg.bias"], dict.StateDict().Keys);
        Assert.Same(dict["seg"], dict.Children().Last());
        Assert.True(dict.ContainsKey("cls"));
        var error = Assert.Throws<KeyNotFoundException>(() => dict["depth"]);
        Assert.Contains("have [cls, seg]", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(4, 5)]
    public void EmbeddingLooksUpRowsAndZeroesThePaddingRow(int batchSize, int length)
    {
        var embedding = new Embedding(10, 4, paddingIdx: 0, generator: new Generator(2));
        Assert.All(embedding.Weight.Select(0, 0).ToArray(), v => Assert.Equal(0f, v));
        var indices = Tensor.FromArray(Enumerable.Range(0, batchSize * length).Select(i => (long)(i % 10)).ToArray(), batchSize, length);
        var y = embedding.Forward(indices);
        Assert.Equal([batchSize, length, 4], y.Shape.ToArray());
        Assert.Equal(embedding.Weight.Select(0, 1).ToArray(), y.Select(0, 0).Select(0, 1).ToArray());
    }

    [Theory]
    [InlineData(2, 5, 7)]
    [InlineData(1, 3, 3)]
    public void MultiheadAttentionShapesAndInit(int batchSize, int queryLength, int keyLength)
    {
        var mha = new MultiheadAttention(16, 4, generator: new Generator(3));
        Assert.Equal(["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"], mha.StateDict().Keys);
        Assert.All(mha.InProjBias!.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(mha.OutProj.Bias!.ToArray(), v => Assert.Equal(0f, v));
        var q = Randn(batchSize, queryLength, 16);
        var kv = Randn(batchSize, keyLength, 16);
        Assert.Equal([batchSize, queryLength, 16], mha.Forward(q, kv, kv).Shape.ToArray());
        Assert.Equal([batchSize, queryLength, 16], mha.Forward(q).Shape.ToArray());
        Assert.Throws<TensorShapeException>(() => mha.Forward(q, kv, kv, attnMask: Tensor.Zeros(queryLength, keyLength + 1)));
    }

    [Theory]
    [InlineData(16, 4)]
    [InlineData(32, 8)]
    public void MlpPatchEmbedAndVitBlockShapes(int imageSize, int patchSize)
    {
        var mlp = new Mlp(8, 32, generator: new Generator(4));
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], mlp.StateDict().Keys);
        Assert.Equal([2, 5, 8], mlp.Forward(Randn(2, 5, 8)).Shape.ToArray());
        var patches = new PatchEmbed(3, 8, patchSize, new Generator(4));
        int grid = imageSize / patchSize;
        Assert.Equal([2, 8, grid, grid], patches.Forward(Randn(2, 3, imageSize, imageSize)).Shape.ToArray());
        var tokens = patches.Tokens(Randn(2, 3, imageSize, imageSize));
        Assert.Equal([2, grid * grid, 8], tokens.Shape.ToArray());
        var block = new VitBlock(8, 2, generator: new Generator(4));
        Assert.Equal(tokens.Shape.ToArray(), block.Forward(tokens).Shape.ToArray());
        Assert.Throws<TensorShapeException>(() => patches.Forward(Randn(1, 3, imageSize + 1, imageSize)));
    }

    [Theory]
    [InlineData(8, 8, 0)]
    [InlineData(6, 10, 2)]
    public void SwinBlockAndPatchMergingShapes(int height, int width, int shift)
    {
        var block = new SwinBlock(16, 2, windowSize: 4, shiftSize: shift, generator: new Generator(6));
        var x = Randn(2, height, width, 16);
        Assert.Equal(x.Shape.ToArray(), block.Forward(x).Shape.ToArray());
        Assert.Equal([49, 2], block.Attn.RelativePositionBiasTable.Shape.ToArray());
        Assert.Equal([16, 16], block.Attn.RelativePositionIndex.Shape.ToArray());
        var merge = new PatchMerging(16, new Generator(6));
        Assert.Equal([2, (height + 1) / 2, (width + 1) / 2, 32], merge.Forward(x).Shape.ToArray());
        Assert.Equal(["reduction.weight", "norm.weight", "norm.bias"], merge.StateDict().Keys);
    }

    [Fact]
    public void ShiftMaskSeparatesTheWrappedRegions()
    {
        var block = new SwinBlock(8, 1, windowSize: 4, shiftSize: 2, generator: new Generator(7));
        var mask = block.ShiftMask(8, 8);
        Assert.Equal([4, 16, 16], mask.Shape.ToArray());
        // The top-left window holds one region only; the bottom-right one mixes four.
        Assert.All(mask.Select(0, 0).ToArray(), v => Assert.Equal(0f, v));
        var last = mask.Select(0, 3).ToArray();
        Assert.Equal(16 * 16 - 4 * 4 * 4, last.Count(v => v == -100f));
    }

    [Fact]
    public void CachedShiftMaskOutlivesTheStepScope()
    {
        var block = new SwinBlock(8, 2, windowSize: 4, shiftSize: 2, generator: new Generator(7));
        var x = Randn(1, 8, 8, 8);
        float[] first, second;
        using (new TensorScope()) first = block.Forward(x).ToArray();
        using (new TensorScope()) second = block.Forward(x).ToArray();
        Assert.Equal(first, second);
        Assert.Same(block.ShiftMask(8, 8), block.ShiftMask(8, 8));
    }

    [Theory]
    [InlineData(2, 2, 1)]
    [InlineData(2, 1, 2)]
    public void ResidualBlocksShapes(int batchSize, int stride, int width)
    {
        int size = 8 * width;
        var basic = new BasicBlock(8, 16, stride, new Generator(8));
        Assert.NotNull(basic.Downsample);
        Assert.Equal([batchSize, 16, size / stride, size / stride], basic.Forward(Randn(batchSize, 8, size, size)).Shape.ToArray());
        Assert.Null(new BasicBlock(16, 16, 1, new Generator(8)).Downsample);
        var bottleneck = new Bottleneck(16, 8, stride, new Generator(8));
        Assert.Equal([batchSize, 32, size / stride, size / stride], bottleneck.Forward(Randn(batchSize, 16, size, size)).Shape.ToArray());
        Assert.Contains("downsample.1.running_var", bottleneck.StateDict().Keys);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(48)]
    public void FpnKeepsEachLevelsResolution(int size)
    {
        var fpn = new Fpn([8, 16, 32], 12, new Generator(9));
        Assert.Equal(["inner_blocks.0.0.weight", "inner_blocks.0.0.bias"], fpn.StateDict().Keys.Take(2));
        Assert.Contains("layer_blocks.2.0.weight", fpn.StateDict().Keys);
        var features = new[] { Randn(2, 8, size / 4, size / 4), Randn(2, 16, size / 8, size / 8), Randn(2, 32, size / 16, size / 16) };
        var outputs = fpn.Forward(features);
        for (int i = 0; i < 3; i++)
            Assert.Equal([2, 12, features[i].Size(2), features[i].Size(3)], outputs[i].Shape.ToArray());
    }

    [Fact]
    public void FpnTopDownPathReachesTheFinestLevel()
    {
        var fpn = new Fpn([4, 4], 4, new Generator(10));
        var coarse = Randn(1, 4, 2, 2).RequireGrad();
        var outputs = fpn.Forward([Randn(1, 4, 4, 4), coarse]);
        Functional.Sum(outputs[0]).Backward();
        Assert.NotNull(coarse.Grad);
        Assert.Contains(coarse.Grad!.ToArray(), v => v != 0f);
    }
}
