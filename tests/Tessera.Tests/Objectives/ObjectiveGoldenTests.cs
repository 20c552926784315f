using Tessera.Autograd;
using Tessera.Models.Objectives;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Objectives;

/// <summary>The shared objectives against PyTorch (tools/goldens/gen_objectives.py).</summary>
public sealed class ObjectiveGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("objectives");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("objectives", name);
        GoldenRunner.Run(golden, (c, x) => c.Op switch
        {
            "info_nce" => [ContrastiveLoss.InfoNce(F.Normalize(x["a"], 1), F.Normalize(x["b"], 1), LearnableLogitScale.ScaleOf(x["log_scale"]))],
            "multi_view_info_nce" => [ContrastiveLoss.MultiViewInfoNce(
                [F.Normalize(x["i0"], 1), F.Normalize(x["i1"], 1)], [F.Normalize(x["t0"], 1), F.Normalize(x["t1"], 1)], LearnableLogitScale.ScaleOf(x["log_scale"]))],
            "negative_cosine" => [FeatureLosses.NegativeCosine(x["pred"], x["target"], x.TryGetValue("mask", out var mask) ? mask : null)],
            "byol" => [FeatureLosses.Byol(x["online"], x["target"])],
            "queue_nearest" => [Nearest(x["queue"], x["queries"])],
            "moco" => Moco(x["q"], x["k"], x["queue"], c.Float("temperature")),
            _ => throw new InvalidOperationException($"unknown op {c.Op}"),
        }, new Tolerance(1e-5f, 1e-4f));
    }

    /// <summary>The loss against a given queue, then the queue after the keys are enqueued.</summary>
    private static Tensor[] Moco(Tensor queries, Tensor keys, Tensor rows, float temperature)
    {
        var moco = new MocoContrast(rows.Size(0), rows.Size(1), temperature);
        moco.Enqueue(rows); // overwrites the random start: the queue is now exactly the golden's
        var loss = moco.Loss(queries, keys);
        moco.Enqueue(keys);
        return [loss, moco.Queue.Features()];
    }

    private static Tensor Nearest(Tensor rows, Tensor queries)
    {
        var queue = new FeatureQueue(rows.Size(0), rows.Size(1));
        queue.Enqueue(rows);
        return queue.NearestNeighbours(queries);
    }
}
