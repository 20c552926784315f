using Tessera.Engine.Random;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Optim;
using Xunit;

namespace Tessera.Tests.Models;

public sealed class LayerDecayTests
{
    [Fact]
    public void VitGroupsDecayFromTheHeadDown()
    {
        const int Depth = 3;
        var vit = new VisionTransformer(imageSize: 16, patchSize: 4, embedDim: 16, depth: Depth, numHeads: 2, numClasses: 5, generator: new Generator(1));
        var groups = LayerDecay.Groups(vit.NamedParameters(), name => LayerDecay.VitLayer(name, Depth), Depth, learningRate: 1e-3f, decay: 0.5f);
        Assert.Equal(Depth + 2, groups.Count);
        var optimizer = new AdamW(groups, 1e-3f);
        var rates = optimizer.Groups.Select(g => g.LearningRate).ToArray();
        for (int layer = 0; layer <= Depth + 1; layer++)
            Assert.Equal(1e-3f * MathF.Pow(0.5f, Depth + 1 - layer), rates[layer], 7);
        Assert.Equal(vit.Parameters().Count(), groups.Sum(g => g.Parameters.Count));
        Assert.Equal(0, LayerDecay.VitLayer("pos_embed", Depth));
        Assert.Equal(3, LayerDecay.VitLayer("blocks.2.mlp.fc1.weight", Depth));
        Assert.Equal(Depth + 1, LayerDecay.VitLayer("head.weight", Depth));
    }

    [Fact]
    public void BadDecayAndLayersAreRejected()
    {
        var p = Tessera.Autograd.Tensor.Ones(2).RequireGrad();
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerDecay.Groups([("w", p)], _ => 0, 2, 0.1f, 0f));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => LayerDecay.Groups([("w", p)], _ => 9, 2, 0.1f, 0.5f));
        Assert.Contains("'w' mapped to layer 9", error.Message, StringComparison.Ordinal);
    }
}
