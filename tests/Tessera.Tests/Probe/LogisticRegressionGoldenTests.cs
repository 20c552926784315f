using Tessera.Models.Probe;
using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Probe;

/// <summary>The L-BFGS fit against torch.optim.LBFGS on the same objective (tools/goldens/gen_probe.py).</summary>
public sealed class LogisticRegressionGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("probe");

    [Theory]
    [MemberData(nameof(Cases))]
    public void OptimumMatchesTorchLbfgs(string name)
    {
        var golden = GoldenFile.Get("probe", name);
        var (x, y) = LinearProbe.Read(new ProbeSplit(golden.Tensor("in.x"), golden.Tensor("in.y")), "golden");
        var model = LogisticRegression.Fit(x, y, golden.Int("classes"), golden.Args.GetProperty("l2").GetDouble());
        Assert.True(model.Converged, $"{name}: L-BFGS did not converge in {model.Iterations} iterations");
        float expectedLoss = golden.Tensor("out.y0").ToArray()[0];
        Assert.True(Math.Abs(model.Loss - expectedLoss) <= 1e-6 * Math.Abs(expectedLoss) + 1e-7, $"{name}: loss {model.Loss} vs torch {expectedLoss}");
        float[] weight = golden.Tensor("out.y1").ToArray(), bias = golden.Tensor("out.y2").ToArray();
        double maxDiff = 0;
        for (int c = 0; c < model.ClassCount; c++)
        {
            for (int d = 0; d < model.FeatureCount; d++) maxDiff = Math.Max(maxDiff, Math.Abs(model.Weight[c, d] - weight[c * model.FeatureCount + d]));
            maxDiff = Math.Max(maxDiff, Math.Abs(model.Bias[c] - bias[c]));
        }
        Assert.True(maxDiff < 1e-3, $"{name}: parameters differ from torch's optimum by up to {maxDiff:g3}");
    }
}
