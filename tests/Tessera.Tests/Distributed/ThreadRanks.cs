using System.Runtime.InteropServices;
using Tessera.Engine.Distributed;

namespace Tessera.Tests.Distributed;

/// <summary>
/// An <see cref="ICommunicator"/> whose ranks are threads of this process: each collective
/// publishes the rank's buffer, waits for every rank, combines the buffers in rank order, then
/// waits again before anyone may reuse the slots. Lets the distributed trainer be tested without MPI.
/// </summary>
internal sealed class ThreadRanks
{
    private readonly Barrier _barrier;
    private readonly byte[]?[] _slots;

    public ThreadRanks(int size)
    {
        _barrier = new Barrier(size);
        _slots = new byte[]?[size];
        Size = size;
    }

    public int Size { get; }

    public ICommunicator Rank(int rank) => new Member(this, rank);

    /// <summary>Runs <paramref name="body"/> once per rank on its own thread and returns the results in rank order.</summary>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body)
    {
        var group = new ThreadRanks(size);
        var results = new T[size];
        var errors = new Exception?[size];
        var threads = Enumerable.Range(0, size).Select(r => new Thread(() =>
        {
            try
            {
                results[r] = body(group.Rank(r));
            }
            catch (Exception e)
            {
                errors[r] = e;
                group._barrier.RemoveParticipant();
            }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw new AggregateException(error);
        return results;
    }

    private byte[][] Exchange(int rank, ReadOnlySpan<byte> data)
    {
        _slots[rank] = data.ToArray();
        _barrier.SignalAndWait(TimeSpan.FromSeconds(60));
        var all = _slots.Select(s => s!).ToArray();
        _barrier.SignalAndWait(TimeSpan.FromSeconds(60));
        return all;
    }

    private sealed class Member(ThreadRanks group, int rank) : ICommunicator
    {
        public int Rank => rank;

        public int Size => group.Size;

        public string Description => "threads";

        public void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum)
            where T : unmanaged
        {
            var all = group.Exchange(rank, MemoryMarshal.AsBytes(values));
            var result = MemoryMarshal.Cast<byte, T>(all[0]).ToArray();
            for (int r = 1; r < all.Length; r++)
            {
                var other = MemoryMarshal.Cast<byte, T>(all[r]);
                for (int i = 0; i < result.Length; i++) result[i] = Combine(result[i], other[i], op);
            }
            result.CopyTo(values);
        }

        public void Broadcast(Span<byte> data, int root) => group.Exchange(rank, data)[root].CopyTo(data);

        public void AllGather(ReadOnlySpan<byte> local, Span<byte> all)
        {
            var parts = group.Exchange(rank, local);
            for (int r = 0; r < parts.Length; r++) parts[r].CopyTo(all[(r * local.Length)..]);
        }

        public void Barrier() => group.Exchange(rank, []);

        public void Abort(string message, int exitCode = 3) => throw new InvalidOperationException(message);

        public void Dispose()
        {
        }

        private static T Combine<T>(T a, T b, ReduceOp op)
            where T : unmanaged
        {
            if (typeof(T) == typeof(float)) return (T)(object)Combine((float)(object)a, (float)(object)b, op);
            if (typeof(T) == typeof(double)) return (T)(object)Combine((double)(object)a, (double)(object)b, op);
            long x = (long)(object)a, y = (long)(object)b;
            return (T)(object)(op == ReduceOp.Sum ? x + y : op == ReduceOp.Min ? Math.Min(x, y) : Math.Max(x, y));
        }

        private static float Combine(float a, float b, ReduceOp op) => op == ReduceOp.Sum ? a + b : op == ReduceOp.Min ? Math.Min(a, b) : Math.Max(a, b);

        private static double Combine(double a, double b, ReduceOp op) => op == ReduceOp.Sum ? a + b : op == ReduceOp.Min ? Math.Min(a, b) : Math.Max(a, b);
    }
}
