using Tessera.Engine.Distributed;
using Tessera.Models.Training.Distributed;
using Xunit;

namespace Tessera.Tests.Distributed;

/// <summary>The pieces of a distributed step that need no MPI: the device deal, the gradient layout and its buckets, rank agreement.</summary>
public sealed class DistributedBookkeepingTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 4)]
    [InlineData(3, 4)]
    [InlineData(3, 10)]
    [InlineData(5, 5)]
    public void DealCoversEveryDeviceOnceInContiguousRankOrder(int ranks, int devices)
    {
        int next = 0;
        for (int rank = 0; rank < ranks; rank++)
        {
            var deal = DeviceDeal.For(rank, ranks, devices);
            Assert.Equal(next, deal.First);
            Assert.True(deal.Count >= devices / ranks && deal.Count <= devices / ranks + 1, $"rank {rank}: {deal.Count} devices");
            next = deal.End;
        }
        Assert.Equal(devices, next);
    }

    [Fact]
    public void MoreRanksThanDevicesIsAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => DeviceDeal.For(0, 3, 2));
        Assert.Contains("3 ranks but the recipe has 2 virtual device(s)", error.Message, StringComparison.Ordinal);
        Assert.Contains("mpirun -np 2", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Segments parameter by parameter, users in device order; N^p counts; unused pairs have no segment.</summary>
    [Fact]
    public void LayoutPlacesEachUsedDeviceGradientOnceInDeviceOrder()
    {
        int[] sizes = [3, 2, 5];
        bool[][] used = [[true, true, false], [true, false, true], [true, false, false]];
        var layout = new GradientLayout(sizes, used);
        Assert.Equal([3, 1, 1], layout.Users);
        Assert.Equal(3 * 3 + 2 + 5, layout.Length);
        Assert.Equal(0, layout.Offset(0, 0));
        Assert.Equal(3, layout.Offset(0, 1));
        Assert.Equal(6, layout.Offset(0, 2));
        Assert.Equal(9, layout.Offset(1, 0));
        Assert.Equal(-1, layout.Offset(1, 1));
        Assert.Equal(11, layout.Offset(2, 1));
        Assert.Equal(-1, layout.Offset(2, 2));
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(16, 5)]
    [InlineData(16, 1)]
    [InlineData(16, 100)]
    public void BucketsCoverTheBufferExactlyOnce(int length, int bucket)
    {
        var layout = new GradientLayout([length], [[true]]);
        var buckets = layout.Buckets(bucket).ToList();
        long next = 0;
        foreach (var (start, count) in buckets)
        {
            Assert.Equal(next, start);
            Assert.InRange(count, 1, bucket);
            next = start + count;
        }
        Assert.Equal(length, next);
        Assert.Equal((length + bucket - 1) / bucket, buckets.Count);
    }

    /// <summary>-0.0 is the additive identity: a slot filled by one rank survives a sum with the others' fill bit for bit, -0.0 and NaN payloads included.</summary>
    [Fact]
    public void NegativeZeroFillKeepsEveryValueExactly()
    {
        float[] values = [-0f, 0f, 1e-45f, -3.5f, float.MaxValue, float.PositiveInfinity];
        foreach (float v in values)
            Assert.Equal(BitConverter.SingleToInt32Bits(v), BitConverter.SingleToInt32Bits(-0f + (v + -0f)));
        var sums = ThreadRanks.Run(3, world =>
        {
            var buffer = new float[values.Length * 3];
            buffer.AsSpan().Fill(-0f);
            values.CopyTo(buffer, world.Rank * values.Length);
            world.AllReduce(buffer.AsSpan());
            return buffer;
        });
        foreach (var sum in sums)
            for (int r = 0; r < 3; r++)
                for (int i = 0; i < values.Length; i++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(values[i]), BitConverter.SingleToInt32Bits(sum[r * values.Length + i]));
    }

    [Fact]
    public void RanksThatDisagreeAllFailWithTheSameNamedValue()
    {
        var errors = ThreadRanks.Run(2, world =>
            Record.Exception(() => RankAgreement.Check(world, [("step", 10, "hint"), ("recipe", world.Rank, "start every rank with the same recipe")])));
        foreach (var error in errors)
        {
            Assert.IsType<RankAgreement.RankMismatchException>(error);
            Assert.Contains("disagree on the recipe", error!.Message, StringComparison.Ordinal);
            Assert.Contains("start every rank with the same recipe", error.Message, StringComparison.Ordinal);
        }
        Assert.All(ThreadRanks.Run(2, world => Record.Exception(() => RankAgreement.Check(world, [("step", 10, "")]))), Assert.Null);
    }

    [Fact]
    public void ASetupFailureOnOneRankStopsEveryRankWithItsMessage()
    {
        var errors = ThreadRanks.Run(3, world =>
            Record.Exception(() => RankAgreement.ShareFailure(world, world.Rank == 1 ? new ArgumentException("bad recipe field") : null)));
        Assert.All(errors, e => Assert.IsType<RankAgreement.RankMismatchException>(e));
        Assert.Equal("rank 1 failed to start: bad recipe field", errors[0]!.Message);
        Assert.Equal("bad recipe field", errors[1]!.Message);
    }

    [Fact]
    public void SingleProcessCollectivesAreTheIdentityAndCheckTheirArguments()
    {
        var world = SingleProcessCommunicator.Instance;
        Span<double> values = [1.5, -2];
        world.AllReduce(values);
        Assert.Equal([1.5, -2], values.ToArray());
        Assert.Throws<ArgumentException>(() => world.AllReduce(new int[2].AsSpan()));
        Assert.Throws<ArgumentOutOfRangeException>(() => world.Broadcast(new byte[1], 1));
        Assert.Throws<ArgumentException>(() => world.AllGather(new byte[2], new byte[3]));
    }

    [Fact]
    public void DistributedWithoutMpirunSaysHowToLaunch()
    {
        var error = Assert.Throws<InvalidOperationException>(() => MpiCommunicator.World());
        Assert.Contains("not started by mpirun", error.Message, StringComparison.Ordinal);
        Assert.Contains("mpirun -np N", error.Message, StringComparison.Ordinal);
    }
}
