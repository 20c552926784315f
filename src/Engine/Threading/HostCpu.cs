using System.Globalization;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Engine.Threading;

/// <summary>
/// The host CPU in one line, for benchmark output: "AMD EPYC (family 26 model 2, avx512f, 2 cores)".
/// Virtual machines often report a bare brand ("AMD EPYC"), so the family and model numbers
/// (Zen 4 = family 25, Zen 5 = family 26) and the widest vector ISA are added. The PyTorch side
/// (tools/bench/torch_bench.py) builds the same string from /proc/cpuinfo, so compare.py can check
/// that both sides ran on one machine.
/// </summary>
public static class HostCpu
{
    private static readonly Lazy<string> s_description = new(Describe);

    /// <summary>The cached description of this machine's CPU.</summary>
    public static string Description => s_description.Value;

    private static string Describe()
    {
        string brand = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        string? family = null, model = null;
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    int colon = line.IndexOf(':');
                    if (colon < 0) continue;
                    string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                    if (key == "model name") brand = value;
                    else if (key == "cpu family") family ??= value;
                    else if (key == "model") model ??= value;
                    else if (key == "processor" && family is not null) break; // the first core is enough
                }
        }
        catch (IOException)
        {
            // no /proc (another OS, a sandbox): the architecture name alone
        }
        string isa = Avx512F.IsSupported ? "avx512f" : Avx2.IsSupported ? "avx2" : Sse2.IsSupported ? "sse2" : "scalar";
        string where = family is not null && model is not null ? $"family {family} model {model}, " : "";
        return string.Create(CultureInfo.InvariantCulture, $"{brand} ({where}{isa}, {Environment.ProcessorCount} cores)");
    }
}
