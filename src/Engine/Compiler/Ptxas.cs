using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Tessera.Engine.Compiler;

/// <summary>What ptxas reported for one kernel and target.</summary>
public sealed record PtxasReport(string Kernel, string Target, int Registers, int SpillStoreBytes, int SpillLoadBytes, int SharedBytes, int StackBytes, string Log)
{
    public bool Spills => SpillStoreBytes > 0 || SpillLoadBytes > 0;
}

/// <summary>
/// Runs the ptxas fetched by tools/ptxas/fetch-ptxas.sh (into tools/cuda/bin) on compiled kernels
/// and parses its resource usage (-v).
/// </summary>
public static partial class Ptxas
{
    /// <summary>tools/cuda/bin/ptxas above <paramref name="start"/>, or null when it has not been fetched.</summary>
    public static string? Find(string? start = null)
    {
        string? env = Environment.GetEnvironmentVariable("TESSERA_PTXAS");
        if (!string.IsNullOrEmpty(env) && File.Exists(env))
            return env;
        for (var dir = new DirectoryInfo(start ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tools", "cuda", "bin", "ptxas");
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    public const string NotFetchedMessage = "ptxas has not been fetched: run 'bash tools/ptxas/fetch-ptxas.sh' (downloads Debian's nvidia-cuda-toolkit into tools/cuda)";

    /// <summary>Assembles <paramref name="kernel"/> for its target; throws with ptxas's log on an error.</summary>
    public static PtxasReport Check(string ptxas, CompiledKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return Check(ptxas, kernel.Ptx, kernel.EntryName, kernel.Target);
    }

    /// <summary>Assembles PTX text from any compiler (ILGPU's too) for <paramref name="gpuTarget"/>; throws with ptxas's log on an error.</summary>
    public static PtxasReport Check(string ptxas, string ptx, string entryName, GpuTarget gpuTarget)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        string target = KernelCompiler.TargetName(gpuTarget);
        string file = Path.Combine(Path.GetTempPath(), $"tessera-{Environment.ProcessId}-{Guid.NewGuid():N}.ptx");
        File.WriteAllText(file, ptx);
        try
        {
            var info = new ProcessStartInfo(ptxas) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string arg in new[] { $"-arch={target}", "-v", file, "-o", "/dev/null" })
                info.ArgumentList.Add(arg);
            using Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {ptxas}");
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            string log = process.StandardError.ReadToEnd() + stdout.Result;
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"ptxas rejected {entryName} for {target} (exit {process.ExitCode}):\n{log}");
            return new PtxasReport(entryName, target,
                Number(RegistersPattern(), log), Number(SpillStoresPattern(), log), Number(SpillLoadsPattern(), log),
                Number(SharedPattern(), log), Number(StackPattern(), log), log);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A markdown table of reports.</summary>
    public static string Table(IEnumerable<PtxasReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var lines = new List<string>
        {
            "| kernel | target | registers | spill stores (B) | spill loads (B) | shared (B) | stack (B) |",
            "|---|---|---:|---:|---:|---:|---:|",
        };
        lines.AddRange(reports.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"| {r.Kernel} | {r.Target} | {r.Registers} | {r.SpillStoreBytes} | {r.SpillLoadBytes} | {r.SharedBytes} | {r.StackBytes} |")));
        return string.Join('\n', lines);
    }

    private static int Number(Regex pattern, string log)
    {
        Match m = pattern.Match(log);
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"Used (\d+) registers")]
    private static partial Regex RegistersPattern();

    [GeneratedRegex(@"(\d+) bytes spill stores")]
    private static partial Regex SpillStoresPattern();

    [GeneratedRegex(@"(\d+) bytes spill loads")]
    private static partial Regex SpillLoadsPattern();

    [GeneratedRegex(@"(\d+) bytes smem")]
    private static partial Regex SharedPattern();

    [GeneratedRegex(@"(\d+) bytes stack frame")]
    private static partial Regex StackPattern();
}
