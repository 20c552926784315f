namespace Tessera.Models.Training;

/// <summary>What a run may do with an output folder that already holds files.</summary>
public enum RunFolderMode
{
    /// <summary>Start a new run: refused where the folder already holds a run.</summary>
    Fresh,
    /// <summary>Continue the run in the folder (<c>--resume</c>).</summary>
    Resume,
    /// <summary>Replace the run in the folder (<c>--overwrite</c>): its run files are deleted first.</summary>
    Overwrite,
}

/// <summary>
/// The claim of one process on a run's output folder. A folder that holds a run (a log,
/// checkpoint, weights or metrics) is never overwritten by a new run unless asked
/// (<see cref="RunFolderMode.Overwrite"/>), and two processes never write one folder at once:
/// the claim holds an exclusive lock on <c>.tessera.lock</c> (the operating system releases it
/// when the process exits, also on a crash or kill -9, so a stale lock file never blocks).
/// </summary>
public sealed class RunFolder : IDisposable
{
    /// <summary>The files whose presence means "this folder holds a run".</summary>
    public static IReadOnlyList<string> RunFiles { get; } = ["log.jsonl", "checkpoint.safetensors", "model.safetensors", "metrics.json", "eval.jsonl"];

    public const string LockName = ".tessera.lock";

    private readonly FileStream _lock;

    private readonly bool _created;

    private RunFolder(string path, FileStream lockStream, bool created)
    {
        Path = path;
        _lock = lockStream;
        _created = created;
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>Why <paramref name="full"/> cannot be created, in words (.NET's own message says "Could not find file" for /proc).</summary>
    private static string WhyNotCreatable(string full, Exception error)
    {
        var existing = new DirectoryInfo(full);
        while (existing is not null && !existing.Exists)
        {
            if (File.Exists(existing.FullName))
                return $"'{existing.FullName}' is a file, not a folder";
            existing = existing.Parent;
        }
        if (existing is null)
            return $"none of its parent folders exists ({error.Message})";
        if (error is UnauthorizedAccessException)
            return $"permission denied in '{existing.FullName}'";
        return $"'{existing.FullName}' does not accept new folders (a read-only or virtual file system such as /proc or /sys, or no permission)";
    }

    /// <summary>
    /// Claims <paramref name="folder"/> for a run (creating it): refuses with a clear error where
    /// another process holds it, or where it holds a run and <paramref name="mode"/> is Fresh;
    /// with Overwrite the previous run's files are deleted after the lock is taken.
    /// </summary>
    public static RunFolder Claim(string folder, RunFolderMode mode)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        string full = System.IO.Path.GetFullPath(folder);
        bool created = !Directory.Exists(full);
        try
        {
            Directory.CreateDirectory(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--out: cannot create the run folder '{folder}': {WhyNotCreatable(full, e)}; choose a folder you can write to (for example runs/NAME)", e);
        }
        FileStream stream;
        string lockPath = System.IO.Path.Combine(full, LockName);
        try
        {
            // FileShare.None is an exclusive advisory lock (flock) on Unix and a share-mode lock on Windows.
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"--out: the run folder '{folder}' is in use by another Tessera process ({ReadOwner(lockPath)}); wait for it to finish or choose another --out", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"--out: cannot write the run folder '{folder}' ({e.Message}); choose a folder you can write to", e);
        }
        // The locked file cannot be read by others (on Unix any open takes a shared flock), so the
        // owner's description goes beside it.
        try
        {
            File.WriteAllText(lockPath + ".owner", $"pid {Environment.ProcessId} since {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");
        }
        catch (IOException)
        {
        }
        var existing = RunFiles.Where(f => File.Exists(System.IO.Path.Combine(full, f))).ToList();
        if (existing.Count > 0 && mode == RunFolderMode.Fresh)
        {
            stream.Dispose();
            throw new IOException($"--out: the folder '{folder}' already holds a run ({string.Join(", ", existing)}); a new run never overwrites it. " +
                                  "Continue that run with --resume, train into a new --out folder, or pass --overwrite to replace it");
        }
        if (mode == RunFolderMode.Overwrite)
            foreach (var file in existing)
                File.Delete(System.IO.Path.Combine(full, file));
        // A process killed inside an atomic write leaves its temp file (NAME.tmp-PID) beside the
        // intact NAME; we hold the lock, so no writer owns one now.
        foreach (var stale in Directory.EnumerateFiles(full, "*.tmp-*"))
        {
            try
            {
                File.Delete(stale);
            }
            catch (IOException)
            {
            }
        }
        return new RunFolder(full, stream, created);
    }

    /// <summary>
    /// Releases the lock and removes the lock files; a folder this claim created and nothing else
    /// wrote into (the run failed on bad input) is removed too. After a crash the lock files stay
    /// behind, harmless: nobody holds the lock.
    /// </summary>
    public void Dispose()
    {
        string lockPath = System.IO.Path.Combine(Path, LockName);
        try
        {
            File.Delete(lockPath + ".owner");
            File.Delete(lockPath);
        }
        catch (IOException)
        {
        }
        _lock.Dispose();
        try
        {
            if (_created && Directory.Exists(Path) && !Directory.EnumerateFileSystemEntries(Path).Any())
                Directory.Delete(Path);
        }
        catch (IOException)
        {
        }
    }

    private static string ReadOwner(string lockPath)
    {
        try
        {
            string owner = File.Exists(lockPath + ".owner") ? File.ReadAllText(lockPath + ".owner").Trim() : "";
            return owner.Length > 0 ? owner : "owner unknown";
        }
        catch (IOException)
        {
            return "owner unknown";
        }
    }
}
