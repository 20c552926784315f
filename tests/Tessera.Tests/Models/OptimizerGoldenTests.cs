using Tessera.Autograd;
using Tessera.Models.Optim;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Models;

/// <summary>SGD and AdamW against torch.optim over several steps (tools/goldens/gen_optim.py).</summary>
public sealed class OptimizerGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("optim");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorchOptim(string name)
    {
        var golden = GoldenFile.Get("optim", name);
        GoldenRunner.Run(golden, (c, inputs) =>
        {
            var p = inputs["p"].Clone().Detach().RequireGrad();
            var grads = inputs["grads"];
            float Arg(string key, float fallback) => c.HasArg(key) ? c.Float(key) : fallback;
            Optimizer optimizer = c.Op == "sgd"
                ? new Sgd([p], c.Float("lr"), Arg("momentum", 0f), Arg("dampening", 0f), Arg("weight_decay", 0f), c.Bool("nesterov"))
                : new AdamW([p], c.Float("lr"), Arg("beta1", 0.9f), Arg("beta2", 0.999f), Arg("eps", 1e-8f), Arg("weight_decay", 0.01f));
            var history = Tensor.Zeros(grads.Shape);
            for (int step = 0; step < grads.Size(0); step++)
            {
                optimizer.ZeroGrad();
                p.Grad = grads.Select(0, step).Contiguous().Clone();
                optimizer.Step();
                history.Select(0, step).CopyFrom(p.Detach());
            }
            return [history];
        }, new Tolerance(1e-6f, 1e-5f));
    }

    [Fact]
    public void BadHyperParametersAreRejected()
    {
        var p = Tensor.Ones(2).RequireGrad();
        var lr = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([p], -1f));
        Assert.Contains("learningRate", lr.Message, StringComparison.Ordinal);
        var nesterov = Assert.Throws<ArgumentException>(() => new Sgd([p], 0.1f, nesterov: true));
        Assert.Contains("Nesterov", nesterov.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([p], beta1: 1f));
        var frozen = Assert.Throws<ArgumentException>(() => new Sgd([Tensor.Ones(2)], 0.1f));
        Assert.Contains("requires grad", frozen.Message, StringComparison.Ordinal);
    }
}
