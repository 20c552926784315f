using System.Diagnostics;
using System.Globalization;
using Tessera.Engine.Memory;

namespace Tessera.Models.Training;

/// <summary>One reading of the process's resources.</summary>
/// <param name="Seconds">Seconds since the sampler started.</param>
/// <param name="Step">The training step at the time (-1 when unknown).</param>
/// <param name="ResidentBytes">Resident set size (what the OS holds for the process).</param>
/// <param name="GcHeapBytes">Bytes in the managed heap (live and not yet collected).</param>
/// <param name="GcCommittedBytes">Bytes the GC has committed from the OS.</param>
/// <param name="PoolBytes">Idle bytes kept by <see cref="CpuMemoryPool"/> for reuse.</param>
/// <param name="OpenFiles">Open file descriptors (-1 where the OS does not list them).</param>
/// <param name="Threads">Threads of the process.</param>
public sealed record ResourceSample(double Seconds, long Step, long ResidentBytes, long GcHeapBytes, long GcCommittedBytes, long PoolBytes, int OpenFiles, int Threads)
{
    /// <summary>The CSV header matching <see cref="ToCsv"/>.</summary>
    public const string CsvHeader = "seconds,step,rss_bytes,gc_heap_bytes,gc_committed_bytes,pool_bytes,open_files,threads";

    public string ToCsv() => string.Create(CultureInfo.InvariantCulture, $"{Seconds:F1},{Step},{ResidentBytes},{GcHeapBytes},{GcCommittedBytes},{PoolBytes},{OpenFiles},{Threads}");

    /// <summary>Parses one line written by <see cref="ToCsv"/>.</summary>
    public static ResourceSample ParseCsv(string line)
    {
        var parts = line.Split(',');
        if (parts.Length != 8)
            throw new FormatException($"resource log: expected 8 comma-separated fields ({CsvHeader}), found {parts.Length} in '{line}'");
        var c = CultureInfo.InvariantCulture;
        return new ResourceSample(double.Parse(parts[0], c), long.Parse(parts[1], c), long.Parse(parts[2], c), long.Parse(parts[3], c),
            long.Parse(parts[4], c), long.Parse(parts[5], c), int.Parse(parts[6], c), int.Parse(parts[7], c));
    }

    /// <summary>Reads this process's resources now.</summary>
    public static ResourceSample Take(double seconds, long step)
    {
        using var process = Process.GetCurrentProcess();
        return new ResourceSample(seconds, step, process.WorkingSet64, GC.GetTotalMemory(forceFullCollection: false),
            GC.GetGCMemoryInfo().TotalCommittedBytes, CpuMemoryPool.PooledBytes, CountOpenFiles(), process.Threads.Count);
    }

    private static int CountOpenFiles()
    {
        // Linux lists a process's descriptors in /proc/self/fd; elsewhere the count is unknown.
        try
        {
            return Directory.Exists("/proc/self/fd") ? Directory.GetFileSystemEntries("/proc/self/fd").Length : -1;
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
    }
}

/// <summary>
/// Appends a <see cref="ResourceSample"/> as a CSV line to a file every interval, on a timer, until
/// disposed (a soak test's record: the file is flushed after each line, so a killed run keeps
/// every sample taken before the kill). The caller reports the current step through <see cref="Step"/>.
/// </summary>
public sealed class ResourceSampler : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Timer _timer;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private long _step = -1;
    private bool _disposed;

    /// <summary>Starts sampling into <paramref name="path"/> (created or replaced) every <paramref name="interval"/>; the first sample is taken at once.</summary>
    public ResourceSampler(string path, TimeSpan interval)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (interval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(interval), interval, $"resource sampler: interval expected > 0, found {interval}");
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        _writer = new StreamWriter(path, append: false) { AutoFlush = true };
        _writer.WriteLine(ResourceSample.CsvHeader);
        _writer.WriteLine(ResourceSample.Take(0, Step).ToCsv());
        _timer = new Timer(_ => Sample(), null, interval, interval);
    }

    /// <summary>The step the next sample records.</summary>
    public long Step
    {
        get => Interlocked.Read(ref _step);
        set => Interlocked.Exchange(ref _step, value);
    }

    /// <summary>Takes one sample now (also called by the timer).</summary>
    public void Sample()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _writer.WriteLine(ResourceSample.Take(_clock.Elapsed.TotalSeconds, Step).ToCsv());
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            if (_disposed) return;
            _writer.WriteLine(ResourceSample.Take(_clock.Elapsed.TotalSeconds, Step).ToCsv());
            _disposed = true;
            _writer.Dispose();
        }
    }
}
