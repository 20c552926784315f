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

    /// <summary>
    /// Kernels launch thousands of parallel loops of 10-500 µs each (a GEMM K block, a conv image,
    /// an elementwise op), where waking .NET thread-pool workers cost ~13 µs per loop. These
    /// workers spin briefly after each loop, so the next one starts within a microsecond, then
    /// sleep. One loop runs on them at a time; a second thread's loop (or a loop nested inside
    /// one) finds them busy and takes the .NET pool or runs serially.
    /// </summary>
    private static class WorkerPool
    {
        private sealed class Job(Action<int, int> body, int count, int chunks, int helpers)
        {
            public readonly Action<int, int> Body = body;
            public readonly int Count = count, Chunks = chunks;
            public int Next, Done;
            /// <summary>Workers that may still join (MaxThreads − 1: more workers may exist from an earlier, larger setting).</summary>
            public int Helpers = helpers;
            public Exception? Error;

            /// <summary>Takes chunks until none are left; true when this call finished the last one.</summary>
            public void RunChunks()
            {
                int chunk;
                while ((chunk = Interlocked.Increment(ref Next) - 1) < Chunks)
                {
                    try
                    {
                        Body((int)((long)Count * chunk / Chunks), (int)((long)Count * (chunk + 1) / Chunks));
                    }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref Error, e, null);
                    }
                    Interlocked.Increment(ref Done);
                }
            }
        }

        /// <summary>How long a worker spins for the next loop before it sleeps.</summary>
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 10_000; // 100 µs
        private static readonly object Sleep = new();
        private static volatile Job? _job;
        private static int _busy, _started;
        [ThreadStatic] private static bool _isWorker;

        public static bool TryRun(int count, int chunks, int threads, Action<int, int> body)
        {
            if (_isWorker || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
                return false;
            try
            {
                EnsureWorkers(threads - 1);
                var job = new Job(body, count, chunks, threads - 1);
                lock (Sleep)
                {
                    _job = job;
                    Monitor.PulseAll(Sleep);
                }
                job.RunChunks();
                var spin = new SpinWait();
                while (Volatile.Read(ref job.Done) < chunks)
                    spin.SpinOnce(sleep1Threshold: -1);
                if (job.Error != null)
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(job.Error);
                return true;
            }
            finally
            {
                Volatile.Write(ref _busy, 0);
            }
        }

        private static void EnsureWorkers(int wanted)
        {
            while (Volatile.Read(ref _started) < wanted)
            {
                int index = Interlocked.Increment(ref _started);
                if (index > wanted)
                {
                    Interlocked.Decrement(ref _started);
                    break;
                }
                new Thread(WorkerLoop) { IsBackground = true, Name = $"Tessera CPU worker {index}" }.Start();
            }
        }

        private static void WorkerLoop()
        {
            _isWorker = true;
            Job? last = null;
            while (true)
            {
                Job? job = _job;
                long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                while (ReferenceEquals(job, last) && System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
                {
                    Thread.SpinWait(4);
                    job = _job;
                }
                if (ReferenceEquals(job, last))
                {
                    lock (Sleep)
                    {
                        while (ReferenceEquals(_job, last))
                            Monitor.Wait(Sleep);
                        job = _job;
                    }
                }
                last = job;
                if (Interlocked.Decrement(ref job!.Helpers) >= 0)
                    job.RunChunks();
            }
        }
    }

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
        if (WorkerPool.TryRun(count, chunks, threads, body))
            return;
        // The pool is busy (another thread's kernel, e.g. a SIMT virtual device): the .NET pool.
        try
        {
            System.Threading.Tasks.Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, chunk =>
            {
                int start = (int)((long)count * chunk / chunks);
                int end = (int)((long)count * (chunk + 1) / chunks);
                body(start, end);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
        {
            // As on the dedicated workers: the caller sees the loop body's own exception (the first),
            // with its stack, not the .NET pool's wrapper; which path ran must not change the type.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
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
