using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Systems.Gppf;
using Xunit;

namespace Tessera.Tests.Systems;

/// <summary>A task's argmax path extracted into a plain network gives exactly (bit for bit) the outputs of argmax routing.</summary>
public sealed class GppfExtractionTests
{
    /// <summary>A backbone with non-trivial routes and running statistics (a few training forwards move them off 0/1).</summary>
    private static GppfBackbone Trained(int units, ulong seed)
    {
        var backbone = new GppfBackbone(3, 4, 2, units, RoutingMode.Soft, new Generator(seed), routeScale: 1f);
        backbone.Prepare(["cls", "seg"], 10);
        var generator = new Generator(seed + 100);
        using (GradMode.NoGrad())
        {
            for (int i = 0; i < 3; i++) backbone.Forward(i % 2 == 0 ? "cls" : "seg", Tensor.Randn([3, 3, 20, 20], generator) * 2f + 0.5f);
            foreach (var layer in backbone.Layers)
                foreach (var task in new[] { "cls", "seg" })
                    layer.Controller!.Parameter(task).CopyFrom(Tensor.Randn([units], generator));
        }
        backbone.Module.Eval();
        return backbone;
    }

    [Theory]
    [InlineData(2, 3UL)]
    [InlineData(3, 4UL)]
    public void ExtractedPathEqualsArgmaxRoutingBitForBit(int units, ulong seed)
    {
        var backbone = Trained(units, seed);
        var input = Tensor.Randn([2, 3, 24, 24], new Generator(seed + 7));
        foreach (var task in new[] { "cls", "seg" })
        {
            var route = backbone.ArgmaxRoute(task);
            var plain = backbone.ExtractPath(task);
            Assert.Equal(1, plain.UnitCount);
            using var noGrad = GradMode.NoGrad();
            var routed = backbone.Forward(task, input).Maps;
            var extracted = plain.Forward(task, input).Maps;
            Assert.Equal(routed.Count, extracted.Count);
            for (int m = 0; m < routed.Count; m++)
            {
                var a = routed[m].ToArray();
                var b = extracted[m].ToArray();
                float maxDiff = a.Zip(b).Max(p => MathF.Abs(p.First - p.Second));
                Assert.True(a.AsSpan().SequenceEqual(b), $"task {task}, route [{string.Join(",", route)}], map {m}: max |diff| {maxDiff}, expected 0");
            }
        }
        // The two tasks take different paths somewhere, so the check covered more than one unit.
        Assert.NotEqual(backbone.ArgmaxRoute("cls"), backbone.ArgmaxRoute("seg"));
    }

    [Fact]
    public void ExtractedPathHoldsOnlyTheRoutesUnits()
    {
        var backbone = Trained(2, 5);
        var plain = backbone.ExtractPath([1, 0, 1, 0, 1, 0, 1]);
        var source = backbone.Module.StateDict();
        foreach (var (key, value) in plain.Module.StateDict())
        {
            string layer = key[..key.IndexOf(".units.0.", StringComparison.Ordinal)];
            int index = backbone.LayerNames.ToList().IndexOf(layer);
            int unit = new[] { 1, 0, 1, 0, 1, 0, 1 }[index];
            var expected = source[key.Replace(".units.0.", $".units.{unit}.", StringComparison.Ordinal)];
            if (value.DType == DType.Float32) Assert.Equal(expected.ToArray<float>(), value.ToArray<float>());
            else Assert.Equal(expected.ToArray<long>(), value.ToArray<long>());
        }
        Assert.Equal(backbone.Module.ParameterCount() - backbone.Layers.Sum(l => l.Controller!.Parameters().Sum(p => (long)p.Numel)),
            2 * plain.Module.ParameterCount());
    }

    [Fact]
    public void FixedRouteRunsThatPathAlsoInTraining()
    {
        var backbone = Trained(2, 6);
        var plain = backbone.ExtractPath([0, 1, 1, 0, 0, 1, 1]);
        backbone.SetFixedRoute("cls", [0, 1, 1, 0, 0, 1, 1]);
        var input = Tensor.Randn([2, 3, 16, 16], new Generator(9));
        using var noGrad = GradMode.NoGrad();
        Assert.Equal(plain.Forward("cls", input).Final.ToArray(), backbone.Forward("cls", input).Final.ToArray());
        Assert.Equal([0, 1, 1, 0, 0, 1, 1], backbone.ArgmaxRoute("cls"));
    }
}
