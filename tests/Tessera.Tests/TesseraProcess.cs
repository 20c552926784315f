using System.Diagnostics;

namespace Tessera.Tests;

/// <summary>Runs the built command line (src/Cli/bin/CONFIG/TFM/tessera.dll) as a child process, for end-to-end CLI tests.</summary>
internal static class TesseraProcess
{
    /// <summary>Runs to the end; returns the exit code, stdout and stderr separately.</summary>
    public static (int Code, string Stdout, string Stderr) Run(string workingFolder, params string[] args)
    {
        using var process = Start(workingFolder, args);
        // Read stderr on another task so a full stderr pipe cannot block the child while we read stdout.
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Runs to the end; returns the exit code and stdout followed by stderr (for assertions on either).</summary>
    public static (int Code, string Output) RunCombined(string workingFolder, params string[] args)
    {
        var (code, stdout, stderr) = Run(workingFolder, args);
        return (code, stdout + stderr);
    }

    public static Process Start(string workingFolder, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = workingFolder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll());
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["COLUMNS"] = "200";
        return Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
    }

    /// <summary>src/Cli/bin/CONFIG/TFM/tessera.dll of this checkout, built with the tests (same configuration).</summary>
    public static string Dll()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = testBin.Name, configuration = testBin.Parent!.Name;
        for (var dir = testBin; dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "src", "Cli", "bin", configuration, framework, "tessera.dll");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"tessera.dll ({configuration}/{framework}) not found above {testBin.FullName}; build src/Cli first");
    }
}
