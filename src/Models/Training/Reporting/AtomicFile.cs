using System.Text;

namespace Tessera.Models.Training;

/// <summary>Whole-file writes that never leave half a file: write a temp file beside the target, then rename over it.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        string full = Path.GetFullPath(path);
        string? folder = Path.GetDirectoryName(full);
        if (folder is not null) Directory.CreateDirectory(folder);
        string temp = $"{full}.tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                var bytes = Encoding.UTF8.GetBytes(text);
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
