namespace Tessera.Engine.Threading;

/// <summary>
/// The one place CPU kernels go parallel. Work is split into contiguous ranges; with
/// <see cref="MaxThreads"/> = 1 everything runs serially on the calling thread, which is how
/// tests check that results do not depend on the thread count.
/// </summary>
public static class CpuParallel
{
    private static int _maxThreads = Environment.ProcessorCount;

    [ThreadStatic] private static int _serialDepth;

    /// <summary>Threads a kernel may use (default: the processor count). 1 makes every kernel serial.</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _maxThreads = value;
        }
    }

    /// <summary>Threads a kernel started on this thread may use now (1 inside a <see cref="SerialScope"/>).</summary>
    public static int EffectiveThreads => _serialDepth > 0 ? 1 : _maxThreads;

    /// <summary>Runs <paramref name="body"/>(start, end) over [0, count) in ranges of at least <paramref name="minChunk"/> items.</summary>
    public static void For(int count, int minChunk, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0)
            return;
        minChunk = Math.Max(1, minChunk);
        int threads = _serialDepth > 0 ? 1 : _maxThreads;
        int chunks = Math.Min(count / minChunk, threads * 4);
        if (threads == 1 || chunks <= 1)
        {
            body(0, count);
            return;
        }
        System.Threading.Tasks.Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, chunk =>
        {
            int start = (int)((long)count * chunk / chunks);
            int end = (int)((long)count * (chunk + 1) / chunks);
            body(start, end);
        });
    }

    /// <summary>Like <see cref="For(int,int,Action{int,int})"/> with the chunk size derived from a per-item cost (in rough flops), so tiny loops stay serial.</summary>
    public static void ForCost(int count, long costPerItem, Action<int, int> body)
    {
        const long MinWorkPerChunk = 32_768;
        int minChunk = (int)Math.Clamp(MinWorkPerChunk / Math.Max(1, costPerItem), 1, int.MaxValue);
        For(count, minChunk, body);
    }

    /// <summary>
    /// Until disposed, kernels called on this thread run serially (an outer loop that is already
    /// parallel, such as one GEMM per batch, uses this so inner kernels do not split again).
    /// </summary>
    public static IDisposable SerialScope()
    {
        _serialDepth++;
        return new EndSerial();
    }

    private sealed class EndSerial : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _serialDepth--;
        }
    }

    /// <summary>Runs with <see cref="MaxThreads"/> temporarily set; restores it on dispose.</summary>
    public static IDisposable WithThreads(int threads)
    {
        int previous = MaxThreads;
        MaxThreads = threads;
        return new Restore(previous);
    }

    private sealed class Restore(int previous) : IDisposable
    {
        public void Dispose() => MaxThreads = previous;
    }
}
