using System.Text;

namespace Tessera.Models.Training;

/// <summary>Whole-file writes that never leave half a file: write a temp file beside the target, then rename over it.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string? folder = Path.GetDirectoryName(full);
        if (folder is not null) Directory.CreateDirectory(folder);
        // Thread id too: two threads of one process may write the same file (parallel plot writers).
        string temp = $"{full}.tmp-{Environment.ProcessId}-{Environment.CurrentManagedThreadId}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
