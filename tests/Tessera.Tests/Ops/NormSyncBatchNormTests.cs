using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>
/// SyncBN through <see cref="InProcessBatchStatisticsGroup"/>: replicas on their own threads,
/// each with its own part of the batch, must match one batch norm over the whole batch, forward,
/// running statistics and gradients.
/// </summary>
public sealed class NormSyncBatchNormTests
{
    private const int Channels = 3;
    private static readonly Tolerance Close = new(2e-5f, 1e-4f);

    private sealed record ReplicaResult(Tensor Input, Tensor Output, Tensor Weight, Tensor Bias, Tensor RunningMean, Tensor RunningVar);

    /// <summary>Runs BatchNorm + backward of sum(y * gradOutput) on each replica on its own thread.</summary>
    private static ReplicaResult[] RunReplicas(float[][] inputs, int[][] shapes, float[][] gradOutputs, float[] weight, float[] bias)
    {
        var group = new InProcessBatchStatisticsGroup(inputs.Length, TimeSpan.FromSeconds(20));
        var tasks = Enumerable.Range(0, inputs.Length).Select(rank => Task.Factory.StartNew(() =>
        {
            var x = Tensor.FromArray(inputs[rank], shapes[rank]).RequireGrad();
            var w = Tensor.FromArray(weight).RequireGrad();
            var b = Tensor.FromArray(bias).RequireGrad();
            var runningMean = Tensor.Zeros(Channels);
            var runningVar = Tensor.Ones(Channels);
            var y = F.BatchNorm(x, runningMean, runningVar, w, b, training: true, momentum: 0.2f, reducer: group.Replica(rank));
            F.Sum(y * Tensor.FromArray(gradOutputs[rank], shapes[rank])).Backward();
            return new ReplicaResult(x, y, w, b, runningMean, runningVar);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        Task.WaitAll(tasks);
        return tasks.Select(t => t.Result).ToArray();
    }

    private static float[] Random(int count, ulong seed) => Tensor.Randn([count], new Generator(seed)).ToArray();

    [Fact]
    public void MatchesBatchNormOverTheUnionOfBatches()
    {
        int[] shapeA = [2, Channels, 2, 3], shapeB = [5, Channels, 2, 3];
        float[] a = Random(36, 1), b = Random(90, 2), gradA = Random(36, 3), gradB = Random(90, 4);
        for (int i = 0; i < b.Length; i++) b[i] = b[i] * 2f + 1f; // a different distribution on each replica
        float[] weight = Random(Channels, 5), bias = Random(Channels, 6);
        var replicas = RunReplicas([a, b], [shapeA, shapeB], [gradA, gradB], weight, bias);

        // Batch is the outermost dim, so the union along batch is the concatenation of the buffers.
        var x = Tensor.FromArray([.. a, .. b], 7, Channels, 2, 3).RequireGrad();
        var w = Tensor.FromArray(weight).RequireGrad();
        var bi = Tensor.FromArray(bias).RequireGrad();
        var runningMean = Tensor.Zeros(Channels);
        var runningVar = Tensor.Ones(Channels);
        var y = F.BatchNorm(x, runningMean, runningVar, w, bi, training: true, momentum: 0.2f);
        F.Sum(y * Tensor.FromArray([.. gradA, .. gradB], 7, Channels, 2, 3)).Backward();

        var expectedY = y.ToArray();
        var expectedGrad = x.Grad!.ToArray();
        GoldenRunner.AssertClose(replicas[0].Output, Tensor.FromArray(expectedY[..36], shapeA), Close, "norm-syncbn/replica0 out.y");
        GoldenRunner.AssertClose(replicas[1].Output, Tensor.FromArray(expectedY[36..], shapeB), Close, "norm-syncbn/replica1 out.y");
        GoldenRunner.AssertClose(replicas[0].Input.Grad!, Tensor.FromArray(expectedGrad[..36], shapeA), Close, "norm-syncbn/replica0 grad.x");
        GoldenRunner.AssertClose(replicas[1].Input.Grad!, Tensor.FromArray(expectedGrad[36..], shapeB), Close, "norm-syncbn/replica1 grad.x");
        // Each replica's parameter gradient is its local share; data parallelism sums them.
        GoldenRunner.AssertClose(replicas[0].Weight.Grad! + replicas[1].Weight.Grad!, w.Grad!, Close, "norm-syncbn/sum grad.weight");
        GoldenRunner.AssertClose(replicas[0].Bias.Grad! + replicas[1].Bias.Grad!, bi.Grad!, Close, "norm-syncbn/sum grad.bias");
        foreach (var replica in replicas)
        {
            GoldenRunner.AssertClose(replica.RunningMean, runningMean, Close, "norm-syncbn/running mean");
            GoldenRunner.AssertClose(replica.RunningVar, runningVar, Close, "norm-syncbn/running var");
        }

        // And it really is synchronised: a local batch norm of one replica differs.
        var local = F.BatchNorm(Tensor.FromArray(a, shapeA), null, null, training: true).ToArray();
        Assert.True(local.Zip(expectedY[..36]).Max(p => MathF.Abs(p.First - p.Second)) > 0.1f);
    }

    [Fact]
    public void ReplicasWithDifferentSpatialShapesShareStatistics()
    {
        int[] shapeA = [2, Channels, 4], shapeB = [3, Channels, 2, 3];
        float[] a = Random(24, 7), b = Random(54, 8), gradA = Random(24, 9), gradB = Random(54, 10);
        float[] weight = Random(Channels, 11), bias = Random(Channels, 12);
        var replicas = RunReplicas([a, b], [shapeA, shapeB], [gradA, gradB], weight, bias);

        // Reference: one [1, C, L] batch holding every value of each channel from both replicas.
        var (union, toA, toB) = ChannelUnion(a, 2, 4, b, 3, 6);
        var (gradUnion, _, _) = ChannelUnion(gradA, 2, 4, gradB, 3, 6);
        var x = Tensor.FromArray(union, 1, Channels, union.Length / Channels).RequireGrad();
        var y = F.BatchNorm(x, null, null, Tensor.FromArray(weight), Tensor.FromArray(bias), training: true);
        F.Sum(y * Tensor.FromArray(gradUnion, x.Shape.ToArray())).Backward();
        var expectedY = y.ToArray();
        var expectedGrad = x.Grad!.ToArray();

        GoldenRunner.AssertClose(replicas[0].Output, Tensor.FromArray(toA.Select(i => expectedY[i]).ToArray(), shapeA), Close, "norm-syncbn/replica0 out.y");
        GoldenRunner.AssertClose(replicas[1].Output, Tensor.FromArray(toB.Select(i => expectedY[i]).ToArray(), shapeB), Close, "norm-syncbn/replica1 out.y");
        GoldenRunner.AssertClose(replicas[0].Input.Grad!, Tensor.FromArray(toA.Select(i => expectedGrad[i]).ToArray(), shapeA), Close, "norm-syncbn/replica0 grad.x");
        GoldenRunner.AssertClose(replicas[1].Input.Grad!, Tensor.FromArray(toB.Select(i => expectedGrad[i]).ToArray(), shapeB), Close, "norm-syncbn/replica1 grad.x");
    }

    /// <summary>Per channel, A's values then B's, as a [C, L] buffer; with the union position of every element of A and B.</summary>
    private static (float[] Union, int[] ToA, int[] ToB) ChannelUnion(float[] a, int batchA, int innerA, float[] b, int batchB, int innerB)
    {
        int perChannel = batchA * innerA + batchB * innerB;
        var union = new float[Channels * perChannel];
        var toA = new int[a.Length];
        var toB = new int[b.Length];
        for (int c = 0; c < Channels; c++)
        {
            int k = c * perChannel;
            for (int n = 0; n < batchA; n++)
                for (int i = 0; i < innerA; i++, k++)
                {
                    int source = (n * Channels + c) * innerA + i;
                    union[k] = a[source];
                    toA[source] = k;
                }
            for (int n = 0; n < batchB; n++)
                for (int i = 0; i < innerB; i++, k++)
                {
                    int source = (n * Channels + c) * innerB + i;
                    union[k] = b[source];
                    toB[source] = k;
                }
        }
        return (union, toA, toB);
    }

    [Fact]
    public void AMissingReplicaTimesOut()
    {
        var group = new InProcessBatchStatisticsGroup(2, TimeSpan.FromMilliseconds(200));
        var error = Assert.Throws<TimeoutException>(() =>
            F.BatchNorm(Tensor.Randn([4, Channels]), null, null, training: true, reducer: group.Replica(0)));
        Assert.Contains("replica 0", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => group.Replica(2));
    }

    [Fact]
    public void LocalReducerIsPlainBatchNorm()
    {
        var x = Tensor.Randn([5, Channels, 2], new Generator(13));
        var plain = F.BatchNorm(x, null, null, training: true).ToArray();
        var local = F.BatchNorm(x, null, null, training: true, reducer: LocalBatchStatisticsReducer.Instance).ToArray();
        Assert.Equal(plain, local);
        var single = F.BatchNorm(x, null, null, training: true, reducer: new InProcessBatchStatisticsGroup(1).Replica(0)).ToArray();
        Assert.Equal(plain, single);
    }
}
