using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tessera.Engine.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over Open MPI's MPI_COMM_WORLD. Every collective is started
/// non-blocking (MPI_Iallreduce...) and then polled, which gives two things a blocking call
/// cannot: a rank waiting for a slower one yields its core instead of spinning (on a machine
/// with as many ranks as cores the spinning rank would slow the one it waits for), and a rank
/// that waits longer than <see cref="Timeout"/> (a peer died or hangs) stops the whole job with a
/// message naming the collective, instead of hanging. Calls are serialised by a lock (MPI is
/// initialised with MPI_THREAD_SERIALIZED: the SIMT device threads each reach SyncBN).
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const int MaxCount = 1 << 30; // MPI counts are ints: longer buffers go in pieces
    private static MpiCommunicator? _world;
    private readonly MpiNative _native;
    private readonly object _gate = new();
    private bool _disposed;

    private MpiCommunicator(MpiNative native, int rank, int size, string description)
    {
        _native = native;
        Rank = rank;
        Size = size;
        Description = description;
        Timeout = TimeoutFromEnvironment();
    }

    public int Rank { get; }

    public int Size { get; }

    public string Description { get; }

    /// <summary>
    /// How long one collective may wait for the other ranks before the job is stopped (default
    /// 300 s, or the TESSERA_COMM_TIMEOUT environment variable in seconds).
    /// </summary>
    public TimeSpan Timeout { get; set; }

    /// <summary>Seconds this rank spent inside collectives (waiting included) since start: the communication share of a step.</summary>
    public double SecondsInCollectives { get; private set; }

    /// <summary>True when this process was started by Open MPI's mpirun/mpiexec (or another PMIx launcher).</summary>
    public static bool LaunchedByMpirun =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <summary>
    /// Initialises MPI once per process and returns the world communicator. Outside mpirun, or
    /// without Open MPI, throws an <see cref="InvalidOperationException"/> that says what to do.
    /// </summary>
    /// <param name="what">The option or command that needs MPI, for messages.</param>
    /// <param name="launch">How to start it under mpirun, for the message outside mpirun.</param>
    public static MpiCommunicator World(string what = "--distributed", string? launch = null)
    {
        if (_world is not null) return _world;
        if (!LaunchedByMpirun)
            throw new InvalidOperationException($"{what}: this process was not started by mpirun (OMPI_COMM_WORLD_SIZE is not set); " +
                (launch ?? $"launch every rank with 'mpirun -np N tessera train RECIPE --distributed', or drop {what} to train in one process"));
        var native = MpiNative.TryLoad(out string reason) ?? throw new InvalidOperationException($"{what}: {reason}");
        int initialized = 0;
        Check(native, native.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            int provided = 0;
            Check(native, native.InitThread(null, null, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
            if (provided < MpiNative.ThreadSerialized)
                throw new InvalidOperationException($"{what}: Open MPI provides thread level {provided}, expected MPI_THREAD_SERIALIZED (2) or more: the SIMT device threads call MPI one at a time; use an Open MPI built with thread support");
        }
        // Errors come back as codes (then exceptions with Open MPI's text) instead of aborting silently.
        Check(native, native.CommSetErrhandler(native.CommWorld, native.ErrorsReturn), "MPI_Comm_set_errhandler");
        int rank = 0, size = 0;
        Check(native, native.CommRank(native.CommWorld, &rank), "MPI_Comm_rank");
        Check(native, native.CommSize(native.CommWorld, &size), "MPI_Comm_size");
        var version = stackalloc byte[512];
        int length = 0;
        string description = native.GetLibraryVersion(version, &length) == 0
            ? Marshal.PtrToStringUTF8((nint)version, length).Split(',')[0].Trim()
            : "MPI";
        _world = new MpiCommunicator(native, rank, size, description);
        return _world;
    }

    public void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged
    {
        CommunicatorChecks.CheckElementType<T>();
        nint type = typeof(T) == typeof(float) ? _native.Float : typeof(T) == typeof(double) ? _native.Double : _native.Int64;
        nint mpiOp = op switch { ReduceOp.Sum => _native.OpSum, ReduceOp.Min => _native.OpMin, _ => _native.OpMax };
        for (int start = 0; start < values.Length; start += MaxCount)
        {
            var piece = values.Slice(start, Math.Min(MaxCount, values.Length - start));
            fixed (T* pointer = piece)
            {
                nint request = 0;
                T* p = pointer;
                int count = piece.Length;
                Run("Allreduce", () =>
                {
                    nint r;
                    int code = _native.Iallreduce(MpiNative.InPlace, p, count, type, mpiOp, _native.CommWorld, &r);
                    request = r;
                    return code;
                }, () => request);
            }
        }
    }

    public void Broadcast(Span<byte> data, int root)
    {
        CommunicatorChecks.CheckRoot(root, Size);
        // At least one call, even for an empty buffer: every rank must make the same calls.
        for (int start = 0; start == 0 || start < data.Length; start += MaxCount)
        {
            var piece = data.Slice(start, Math.Min(MaxCount, data.Length - start));
            fixed (byte* pointer = piece)
            {
                nint request = 0;
                byte* p = pointer;
                int count = piece.Length;
                Run("Bcast", () =>
                {
                    nint r;
                    int code = _native.Ibcast(p, count, _native.Byte, root, _native.CommWorld, &r);
                    request = r;
                    return code;
                }, () => request);
            }
        }
    }

    public void AllGather(ReadOnlySpan<byte> local, Span<byte> all)
    {
        CommunicatorChecks.CheckGather(local.Length, all.Length, Size);
        if (local.Length > MaxCount)
            throw new ArgumentException($"AllGather: expected at most {MaxCount} bytes per rank, found {local.Length}; gather in pieces");
        fixed (byte* send = local)
        fixed (byte* receive = all)
        {
            nint request = 0;
            byte* s = send, r = receive;
            int count = local.Length;
            Run("Allgather", () =>
            {
                nint q;
                int code = _native.Iallgather(s, count, _native.Byte, r, count, _native.Byte, _native.CommWorld, &q);
                request = q;
                return code;
            }, () => request);
        }
    }

    public void Barrier()
    {
        nint request = 0;
        Run("Barrier", () =>
        {
            nint r;
            int code = _native.Ibarrier(_native.CommWorld, &r);
            request = r;
            return code;
        }, () => request);
    }

    public void Abort(string message, int exitCode = 3)
    {
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        _native.Abort(_native.CommWorld, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this is for a library that does
    }

    /// <summary>MPI_Finalize (all ranks must call it); later calls do nothing.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            int finalized = 0;
            _native.Finalized(&finalized);
            if (finalized == 0) _native.Finalize();
        }
    }

    /// <summary>
    /// Starts one non-blocking collective and polls it to completion: spins for the first 50 µs
    /// (the common case when ranks arrive together), yields until 0.5 ms, then sleeps 1 ms between
    /// polls, and stops the job past
    /// <see cref="Timeout"/>.
    /// </summary>
    private void Run(string name, Func<int> start, Func<nint> request)
    {
        lock (_gate)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(MpiCommunicator), $"{name}: MPI was finalized on rank {Rank}");
            long began = Stopwatch.GetTimestamp();
            Check(_native, start(), $"MPI_I{name.ToLowerInvariant()}");
            nint handle = request();
            int done = 0;
            long spinUntil = began + Stopwatch.Frequency / 20_000;
            long yieldUntil = began + Stopwatch.Frequency / 2_000;
            long deadline = began + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                Check(_native, _native.Test(&handle, &done, 0), "MPI_Test");
                if (done != 0) break;
                long now = Stopwatch.GetTimestamp();
                if (now > deadline)
                    Abort($"error: rank {Rank}: {name} waited {Timeout.TotalSeconds:g4} s for the other ranks: a rank died, hangs, or runs a different recipe or code; stopping the job (set TESSERA_COMM_TIMEOUT=SECONDS to wait longer)");
                // Past 0.5 ms the other rank is computing: sleep, so this rank neither takes its core
                // nor uses up its scheduler share (a sleeper is run promptly when it wakes).
                if (now > yieldUntil) Thread.Sleep(1);
                else if (now > spinUntil) Thread.Yield();
            }
            SecondsInCollectives += Stopwatch.GetElapsedTime(began).TotalSeconds;
        }
    }

    private static void Check(MpiNative native, int code, string call)
    {
        if (code != 0)
            throw new InvalidOperationException($"{call} failed: {native.Describe(code)} (MPI error {code}); a rank may have died: see the other ranks' messages");
    }

    private static TimeSpan TimeoutFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable("TESSERA_COMM_TIMEOUT");
        if (text is null) return TimeSpan.FromSeconds(300);
        if (!double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0))
            throw new ArgumentException($"TESSERA_COMM_TIMEOUT: expected a positive number of seconds, found '{text}'");
        return TimeSpan.FromSeconds(seconds);
    }
}
