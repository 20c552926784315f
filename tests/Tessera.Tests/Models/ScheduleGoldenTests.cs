using Tessera.Autograd;
using Tessera.Models.Optim;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Models;

/// <summary>Learning-rate schedules and gradient clipping against torch (tools/goldens/gen_schedules.py).</summary>
public sealed class ScheduleGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("schedules");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorch(string name)
    {
        GoldenRunner.Run(GoldenFile.Get("schedules", name), (c, inputs) => c.Op switch
        {
            "schedule" => [LearningRates(c)],
            "clip_norm" => Clip(c, inputs),
            _ => throw new InvalidOperationException(c.Op),
        }, new Tolerance(1e-6f, 1e-5f));
    }

    private static Tensor LearningRates(GoldenCase c)
    {
        var p = Tensor.Zeros(1).RequireGrad();
        var optimizer = new Sgd([p], 0.5f);
        Schedule schedule = c.String("kind") switch
        {
            "cosine" => Schedule.Cosine(c.Int("total"), c.Float("min_factor")),
            "multistep" => Schedule.MultiStep(c.Ints("milestones").Select(m => (long)m).ToArray(), c.Float("gamma")),
            "poly" => Schedule.Poly(c.Int("total"), c.Float("power")),
            "linear" => Schedule.Linear(c.Float("start"), c.Float("end"), c.Int("total")),
            "warmup_cosine" => Schedule.Warmup(c.Int("warmup"), Schedule.Cosine(c.Int("total")), c.Float("start")),
            var kind => throw new InvalidOperationException($"unknown schedule {kind}"),
        };
        var scheduler = new LearningRateScheduler(optimizer, schedule);
        var rates = new float[14];
        for (int i = 0; i < rates.Length; i++)
        {
            rates[i] = optimizer.Groups[0].LearningRate;
            scheduler.Step();
        }
        return Tensor.FromArray(rates);
    }

    private static Tensor[] Clip(GoldenCase c, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var a = Tensor.ZerosLike(inputs["a"]).RequireGrad();
        var b = Tensor.ZerosLike(inputs["b"]).RequireGrad();
        a.Grad = inputs["a"].Clone();
        b.Grad = inputs["b"].Clone();
        float norm = GradientClipping.ClipNorm([a, b], c.Float("max_norm"));
        return [a.Grad, b.Grad, Tensor.Scalar(norm)];
    }
}
