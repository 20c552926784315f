using Tessera.Models.Data.Loading;
using Xunit;

namespace Tessera.Tests.Data;

public class BackgroundLoaderTests
{
    [Fact]
    public void BatchesArriveInOrder()
    {
        using var loader = new BackgroundLoader<int>(50, i => i * i, capacity: 2);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => i * i), loader.Batches().ToList());
        Assert.False(loader.TryNext(out _));
    }

    [Fact]
    public void PreparesAheadButBoundedByCapacity()
    {
        int produced = 0;
        using var loader = new BackgroundLoader<int>(100, i => Interlocked.Increment(ref produced), capacity: 2);
        // Nobody consumes: the worker fills the queue (2) and holds one more batch waiting to enqueue.
        SpinWait.SpinUntil(() => Volatile.Read(ref produced) >= 3, TimeSpan.FromSeconds(5));
        Thread.Sleep(100);
        Assert.InRange(Volatile.Read(ref produced), 3, 3);
        Assert.True(loader.TryNext(out int first));
        Assert.Equal(1, first);
    }

    [Fact]
    public void ProducerExceptionReachesTheConsumerAtThatBatch()
    {
        using var loader = new BackgroundLoader<int>(10, i => i == 3 ? throw new InvalidDataException("bad shard 3") : i);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(loader.TryNext(out int value));
            Assert.Equal(i, value);
        }
        var error = Assert.Throws<InvalidDataException>(() => loader.TryNext(out _));
        Assert.Equal("bad shard 3", error.Message);
        Assert.False(loader.TryNext(out _));
    }

    [Fact]
    public void DisposeStopsTheWorkerAndDisposesUntakenBatches()
    {
        var made = new List<Tracked>();
        var loader = new BackgroundLoader<Tracked>(1000, i =>
        {
            var t = new Tracked();
            lock (made) made.Add(t);
            return t;
        }, capacity: 1);
        Assert.True(loader.TryNext(out var taken));
        loader.Dispose();
        int count;
        lock (made) count = made.Count;
        Thread.Sleep(50);
        lock (made) Assert.Equal(count, made.Count); // no production after Dispose returned
        Assert.True(count < 1000);
        lock (made) Assert.All(made.Where(t => !ReferenceEquals(t, taken)), t => Assert.True(t.Disposed));
        Assert.False(taken.Disposed);
        Assert.Throws<ObjectDisposedException>(() => loader.TryNext(out _));
    }

    private sealed class Tracked : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }
}
