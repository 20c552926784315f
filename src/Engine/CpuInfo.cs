using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Engine;

/// <summary>
/// The processor this process runs on, read once at start: its model name, the widest vector
/// the JIT uses, and the per-core data cache sizes. Kernels size their cache blocks from these
/// instead of from constants tuned for one processor (the development machines change model
/// between sessions), and every benchmark prints <see cref="Describe"/>.
/// </summary>
public static class CpuInfo
{
    private static readonly Lazy<(string Model, string? Family, string? ModelNumber)> s_identity = new(ReadIdentity);
    private static readonly Lazy<string> s_host = new(DescribeHost);
    private static readonly Lazy<(int L1, int L2, int L3)> s_caches = new(ReadCaches);

    /// <summary>/proc/cpuinfo's model name ("AMD EPYC", "Intel(R) Xeon(R) ..."), or the architecture where there is none.</summary>
    public static string Model => s_identity.Value.Model;

    /// <summary>
    /// The host in one line, for benchmark output: "AMD EPYC (family 26 model 2, avx512f, 2 cores)".
    /// Virtual machines often report a bare brand, so the family and model numbers (Zen 4 = family
    /// 25, Zen 5 = family 26) and the widest vector ISA are added. tools/bench/torch_bench.py builds
    /// the same string from /proc/cpuinfo, so compare.py can check both sides ran on one machine:
    /// keep the two formats equal.
    /// </summary>
    public static string Host => s_host.Value;

    /// <summary>Width in bits of the widest float vector the kernels use: 512 with AVX-512F, 256 with AVX2, else 128.</summary>
    public static int VectorBits => Avx512F.IsSupported ? 512 : Avx2.IsSupported ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>L1 data cache per core, in bytes (CPUID; 32 KiB when the processor does not say).</summary>
    public static int L1DataBytes => s_caches.Value.L1;

    /// <summary>L2 cache per core, in bytes (CPUID; 1 MiB when the processor does not say).</summary>
    public static int L2Bytes => s_caches.Value.L2;

    /// <summary>L3 cache (shared), in bytes (CPUID; 0 when the processor does not say).</summary>
    public static int L3Bytes => s_caches.Value.L3;

    /// <summary>"AMD EPYC, AVX-512, L1d 48 KiB, L2 1024 KiB, L3 32768 KiB, 2 cores": one line for benchmark output.</summary>
    public static string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Model}, {(VectorBits == 512 ? "AVX-512" : VectorBits == 256 ? "AVX2" : $"{VectorBits}-bit vectors")}, L1d {L1DataBytes / 1024} KiB, L2 {L2Bytes / 1024} KiB, L3 {L3Bytes / 1024} KiB, {Environment.ProcessorCount} cores");

    private static (string Model, string? Family, string? ModelNumber) ReadIdentity()
    {
        string model = RuntimeInformation.ProcessArchitecture.ToString();
        string? family = null, number = null;
        bool named = false;
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    int colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon < 0) continue;
                    string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                    if (key == "model name" && !named) (model, named) = (value, true);
                    else if (key == "cpu family") family ??= value;
                    else if (key == "model") number ??= value;
                    else if (key == "processor" && family is not null) break; // the first core is enough
                }
        }
        catch (IOException)
        {
            // no /proc (another OS, a sandbox): the architecture name alone
        }
        catch (UnauthorizedAccessException)
        {
        }
        return (model, family, number);
    }

    private static string DescribeHost()
    {
        var (model, family, number) = s_identity.Value;
        string isa = Avx512F.IsSupported ? "avx512f" : Avx2.IsSupported ? "avx2" : Sse2.IsSupported ? "sse2" : "scalar";
        string where = family is not null && number is not null ? $"family {family} model {number}, " : "";
        return string.Create(CultureInfo.InvariantCulture, $"{model} ({where}{isa}, {Environment.ProcessorCount} cores)");
    }

    /// <summary>
    /// Walks CPUID's deterministic cache parameters (leaf 4 on Intel, 0x8000001D on AMD; both
    /// describe one cache per sub-leaf: type, level, ways, partitions, line size, sets).
    /// </summary>
    private static (int L1, int L2, int L3) ReadCaches()
    {
        int l1 = 0, l2 = 0, l3 = 0;
        if (X86Base.IsSupported)
        {
            var (maxExtended, _, _, _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
            var (_, vendorB, _, _) = X86Base.CpuId(0, 0);
            bool amd = vendorB == 0x68747541; // "Auth" of "AuthenticAMD"
            int leaf = amd && (uint)maxExtended >= 0x8000001D ? unchecked((int)0x8000001D) : 4;
            for (int sub = 0; sub < 16; sub++)
            {
                var (eax, ebx, ecx, _) = X86Base.CpuId(leaf, sub);
                int type = eax & 0x1F;
                if (type == 0) break;
                if (type == 2) continue; // instruction cache
                int level = (eax >> 5) & 0x7;
                long size = (long)(((ebx >> 22) & 0x3FF) + 1) * (((ebx >> 12) & 0x3FF) + 1) * ((ebx & 0xFFF) + 1) * ((long)(uint)ecx + 1);
                int bytes = (int)Math.Min(size, int.MaxValue);
                if (level == 1) l1 = bytes;
                else if (level == 2) l2 = bytes;
                else if (level == 3) l3 = bytes;
            }
            // Hypervisors may zero those leaves (this VM's does); the older extended leaves still
            // give L1d (AMD: 0x80000005 ECX[31:24] KiB), L2 (0x80000006 ECX[31:16] KiB) and L3
            // (AMD: 0x80000006 EDX[31:18], in 512 KiB units).
            if (amd && l1 == 0 && (uint)maxExtended >= 0x80000005)
                l1 = (int)((uint)X86Base.CpuId(unchecked((int)0x80000005), 0).Ecx >> 24) * 1024;
            if ((uint)maxExtended >= 0x80000006)
            {
                var (_, _, ecx6, edx6) = X86Base.CpuId(unchecked((int)0x80000006), 0);
                if (l2 == 0) l2 = (int)((uint)ecx6 >> 16) * 1024;
                if (amd && l3 == 0) l3 = (int)Math.Min(((uint)edx6 >> 18) * 512L * 1024, int.MaxValue);
            }
        }
        return (l1 > 0 ? l1 : 32 * 1024, l2 > 0 ? l2 : 1024 * 1024, l3);
    }
}
