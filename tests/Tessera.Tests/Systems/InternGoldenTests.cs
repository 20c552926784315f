using Tessera.Autograd;
using Tessera.Models.Objectives;
using Tessera.Models.Systems.Intern;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Systems;

/// <summary>INTERN's Up-A objectives against PyTorch (tools/goldens/gen_intern.py): values and gradients.</summary>
public sealed class InternGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("intern");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("intern", name);
        GoldenRunner.Run(golden, (c, x) => c.Op switch
        {
            "upa_objective" => UpA(x),
            "mlm" => [F.CrossEntropy(x["logits"].Reshape(-1, x["logits"].Size(2)), x["targets"].Reshape(-1), ignoreIndex: -100)],
            "upal_byol" => [(FeatureLosses.Byol(x["p1"], x["z2"].Detach()) + FeatureLosses.Byol(x["p2"], x["z1"].Detach())) * 0.5f],
            _ => throw new InvalidOperationException($"unknown op {c.Op}"),
        }, new Tolerance(1e-5f, 1e-4f));
    }

    /// <summary>The objective as Up-A-G computes it: normalised embeddings, queue nearest neighbours of text view 1, then the loss terms.</summary>
    private static Tensor[] UpA(IReadOnlyDictionary<string, Tensor> x)
    {
        var (i1, i2, t1, t2) = (F.Normalize(x["i1"], 1), F.Normalize(x["i2"], 1), F.Normalize(x["t1"], 1), F.Normalize(x["t2"], 1));
        var queue = new FeatureQueue(x["queue"].Size(0), x["queue"].Size(1));
        queue.Enqueue(x["queue"]);
        var neighbours = queue.NearestNeighbours(t1.Detach());
        var (loss, ics, sts, mlm) = UpAObjective.Compute(i1, i2, t1, t2, x["logits"], x["targets"], neighbours, LearnableLogitScale.ScaleOf(x["log_scale"]));
        return [loss, ics, sts, mlm, neighbours];
    }
}
