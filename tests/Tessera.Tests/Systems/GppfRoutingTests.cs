using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Systems.Gppf;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Systems;

/// <summary>GPPF lego layers: Gumbel routing statistics, the straight-through gradient, the tau schedule, and where gradients go.</summary>
public sealed class GppfRoutingTests
{
    private static GppfBackbone Backbone(int units, RoutingMode mode, ulong seed = 1, float routeScale = 1f)
    {
        var backbone = new GppfBackbone(1, 4, 1, units, mode, new Generator(seed), routeScale);
        backbone.Prepare(["a", "b"], 100);
        return backbone;
    }

    private static void SetLogits(LegoLayer layer, string task, params float[] values)
    {
        using var noGrad = GradMode.NoGrad();
        layer.Controller!.Parameter(task).CopyFrom(Tensor.FromArray(values));
    }

    [Fact]
    public void TemperatureDecaysLinearlyOverTheFirstNinetyPercentThenStays()
    {
        var schedule = new TemperatureSchedule(100);
        Assert.Equal(90, schedule.DecaySteps);
        Assert.Equal(5.0, schedule.At(0));
        Assert.Equal(5.0 + (0.01 - 5.0) * 45 / 90, schedule.At(45), 12);
        Assert.Equal(5.0 + (0.01 - 5.0) * 89 / 90, schedule.At(89), 12);
        Assert.Equal(0.01, schedule.At(90));
        Assert.Equal(0.01, schedule.At(99));
        Assert.Equal(0.01, schedule.At(1000));
        var half = new TemperatureSchedule(10, DecayFraction: 0.5);
        Assert.Equal(5.0 + (0.01 - 5.0) * 2 / 5, half.At(2), 12);
        Assert.Equal(0.01, half.At(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.At(-1));
    }

    [Fact]
    public void HardRoutingPicksUnitsWithTheSoftmaxProbabilitiesOfTheLogits()
    {
        var backbone = Backbone(3, RoutingMode.Hard);
        var layer = backbone.Layers[1];
        SetLogits(layer, "a", 0.4f, -0.6f, 1.1f);
        // Each unit's own output (distinct weights) tells which one a routed forward ran.
        var input = Tensor.Randn([2, 4, 2, 2], new Generator(5));
        var outputs = new float[3][];
        for (int k = 0; k < 3; k++)
        {
            backbone.SetFixedRoute("a", [0, k, 0, 0]);
            using var noGrad = GradMode.NoGrad();
            outputs[k] = layer.Forward("a", input, RoutingMode.Hard, 1.0, new Generator(0), fixedUnit: k).ToArray();
        }
        backbone.SetFixedRoute("a", null);
        var counts = new int[3];
        var noise = new Generator(77);
        const int draws = 2000;
        using (GradMode.NoGrad())
        {
            for (int i = 0; i < draws; i++)
            {
                var y = layer.Forward("a", input, RoutingMode.Hard, 2.0, noise).ToArray();
                int unit = Enumerable.Range(0, 3).Single(k => y.AsSpan().SequenceEqual(outputs[k]));
                counts[unit]++;
            }
        }
        var p = layer.Probabilities("a");
        for (int k = 0; k < 3; k++)
        {
            double sd = Math.Sqrt(p[k] * (1 - p[k]) / draws);
            Assert.True(Math.Abs(counts[k] / (double)draws - p[k]) < 5 * sd, $"unit {k}: frequency {counts[k] / (double)draws:F4}, softmax {p[k]:F4} (5 sd = {5 * sd:F4})");
        }
    }

    [Fact]
    public void HardRoutingGradientIsTheSoftSampleJacobianTimesTheChosenUnitsProduct()
    {
        var backbone = Backbone(2, RoutingMode.Hard, routeScale: 1f);
        var layer = backbone.Layers[2];
        SetLogits(layer, "a", 0.3f, -0.2f);
        var input = Tensor.Randn([2, 4, 4, 4], new Generator(6));
        var weights = Tensor.Randn([2, 8, 2, 2], new Generator(7));
        const float tau = 0.8f;
        var noise = new Generator(123);
        var state = noise.GetState();
        var y = layer.Forward("a", input, RoutingMode.Hard, tau, noise);
        F.Sum(y * weights).Backward();
        var gradLogits = layer.Controller!.Parameter("a").Grad!.ToArray();

        // Replay the noise: the soft sample u, the chosen unit k, c = <weights, M_k(x)>.
        var replay = new Generator(state.Seed);
        replay.SetState(state.Seed, state.Offset);
        var g = F.GumbelNoise([2], replay);
        var u = F.GumbelSoftmaxWithNoise(Tensor.FromArray(new[] { 0.3f, -0.2f }), g, tau).ToArray();
        int chosen = u[0] >= u[1] ? 0 : 1;
        float c;
        using (GradMode.NoGrad())
            c = F.Sum(layer.Units[chosen].Forward(input) * weights).Item();
        for (int j = 0; j < 2; j++)
        {
            double expected = c * u[chosen] * ((chosen == j ? 1 : 0) - u[j]) / tau;
            Assert.True(Math.Abs(gradLogits[j] - expected) <= 1e-4 + 1e-3 * Math.Abs(expected), $"logit {j}: gradient {gradLogits[j]}, expected {expected}");
        }
        Assert.True(Math.Abs(gradLogits[0]) > 1e-6, "the routing gradient must reach the controller logits");
        // The unit that did not run gets no gradient at all (not even zeros).
        Assert.All(layer.Units[1 - chosen].Parameters(), p => Assert.Null(p.Grad));
        Assert.All(layer.Units[chosen].Parameters(), p => Assert.NotNull(p.Grad));
    }

    [Fact]
    public void SoftRoutingGradientReachesEveryUnitAndOnlyTheTasksControllers()
    {
        var backbone = Backbone(2, RoutingMode.Soft, routeScale: 10f);
        var features = backbone.Forward("a", Tensor.Randn([2, 1, 16, 16], new Generator(8)));
        var loss = features.Maps.Select((m, i) => F.Sum(m * m) * (1f / (i + 1))).Aggregate((x, y) => x + y);
        var gradients = AutogradEngine.LeafGradients(loss);
        foreach (var layer in backbone.Layers)
        {
            var logitsGrad = gradients[layer.Controller!.Parameter("a")].ToArray();
            Assert.Contains(logitsGrad, v => MathF.Abs(v) > 0f);
            Assert.False(gradients.ContainsKey(layer.Controller.Parameter("b")), "task b did not run: its controller must get no gradient");
            foreach (var unit in layer.Units)
                Assert.All(unit.Parameters(), p => Assert.True(gradients.ContainsKey(p), "soft routing runs every unit"));
        }
    }

    [Fact]
    public void BadRoutesAndUnknownTasksAreClearErrors()
    {
        var backbone = Backbone(2, RoutingMode.Soft);
        Assert.Throws<ArgumentException>(() => backbone.ExtractPath([0, 1]));
        Assert.Throws<ArgumentException>(() => backbone.SetFixedRoute("a", [0, 2, 0, 0]));
        var error = Assert.Throws<ArgumentException>(() => backbone.Forward("zzz", Tensor.Randn([2, 1, 16, 16], new Generator(1))));
        Assert.Contains("zzz", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GppfBackbone(1, 4, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RouteController(2, 0f));
    }
}
