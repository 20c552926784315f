using Tessera.Engine.Threading;
using Xunit;

namespace Tessera.Tests.Engine;

/// <summary>The kernel loop runner: every index once, exceptions with their own type, nested loops and loops from several threads at once.</summary>
public sealed class CpuParallelTests
{
    [Fact]
    public void EveryIndexRunsOnceOverManyLoops()
    {
        for (int round = 0; round < 200; round++)
        {
            int count = 1 + round * 7;
            var hits = new int[count];
            CpuParallel.For(count, 1, (from, to) =>
            {
                for (int i = from; i < to; i++) Interlocked.Increment(ref hits[i]);
            });
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public async Task AnExceptionReachesTheCallerWithItsTypeWhileTheWorkersAreBusy()
    {
        // Another thread's loop holds the dedicated workers, so this loop runs on the .NET pool
        // (the path SIMT devices take): its exception must still arrive unwrapped.
        using var busy = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = Task.Run(() => CpuParallel.For(2, 1, (from, to) => { busy.Set(); release.Wait(); }));
        try
        {
            busy.Wait();
            var error = Assert.Throws<InvalidOperationException>(() =>
                CpuParallel.For(64, 1, (from, to) =>
                {
                    if (from <= 40 && 40 < to) throw new InvalidOperationException("chunk 40");
                }));
            Assert.Equal("chunk 40", error.Message);
        }
        finally
        {
            release.Set();
            await holder;
        }
    }

    [Fact]
    public void AnExceptionInALoopReachesTheCallerWithItsType()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            CpuParallel.For(64, 1, (from, to) =>
            {
                if (from <= 40 && 40 < to) throw new InvalidOperationException("chunk 40");
            }));
        Assert.Equal("chunk 40", error.Message);
        // The runner is usable again afterwards.
        int sum = 0;
        CpuParallel.For(64, 1, (from, to) => Interlocked.Add(ref sum, to - from));
        Assert.Equal(64, sum);
    }

    [Fact]
    public void NestedLoopsAndLoopsFromSeveralThreadsComplete()
    {
        long total = 0;
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (int round = 0; round < 50; round++)
                CpuParallel.For(8, 1, (from, to) =>
                {
                    for (int i = from; i < to; i++)
                        CpuParallel.For(16, 1, (a, b) => Interlocked.Add(ref total, b - a));
                });
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a parallel loop did not finish"));
        Assert.Equal(4L * 50 * 8 * 16, total);
    }
}
