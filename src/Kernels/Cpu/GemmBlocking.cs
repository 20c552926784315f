using System.Globalization;
using Tessera.Engine;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Cache blocking of the packed GEMM (<see cref="GemmAvx512Packed"/>), chosen from the caches of
/// the processor the process runs on rather than tuned for one model: K blocks so that a B
/// micro-panel (KC × 32) and an A micro-panel (8 × KC) fill at most 5/6 of the L1 data cache; A
/// blocks (MC × KC, packed per task and reused across the whole B block) of at most a tenth of L2;
/// B blocks (KC × NC, packed once and shared by the cores) of at most one L2: each 32-column
/// panel of it is streamed through L1 once per A block, so it may live in L2 or L3. Measured on
/// Zen 5 (1 MiB L2, single thread, `tessera bench sgemm_2048`): NC 512 (half of L2) was 5-7%
/// slower than 1024 (all of L2); MC 96 and 128 were within the noise.
/// Set TESSERA_GEMM_BLOCKING=KC,MC,NC to override (for tuning; values are checked).
/// </summary>
public readonly record struct GemmBlocking(int KC, int MC, int NC)
{
    /// <summary>The blocking every packed GEMM of this process uses.</summary>
    public static GemmBlocking Current { get; } = FromEnvironment() ?? For(CpuInfo.L1DataBytes, CpuInfo.L2Bytes);

    /// <summary>The rule above for a core with the given L1 data and L2 cache sizes (bytes).</summary>
    public static GemmBlocking For(int l1DataBytes, int l2Bytes)
    {
        const int Mr = GemmAvx512Packed.MR, Nr = GemmAvx512Packed.NR, Float = sizeof(float);
        int kc = Math.Clamp(l1DataBytes * 5 / 6 / ((Nr + Mr) * Float) / 32 * 32, 128, 512);
        int mc = Math.Clamp(l2Bytes / 10 / (kc * Float) / Mr * Mr, 48, 512);
        int nc = Math.Clamp(l2Bytes / (kc * Float) / Nr * Nr, 256, 4096);
        return new GemmBlocking(kc, mc, nc);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"KC {KC}, MC {MC}, NC {NC}");

    private static GemmBlocking? FromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable("TESSERA_GEMM_BLOCKING");
        if (string.IsNullOrWhiteSpace(text))
            return null;
        var parts = text.Split(',');
        if (parts.Length != 3
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int kc)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int mc)
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int nc)
            || kc is < 8 or > 4096 || mc < GemmAvx512Packed.MR || mc % GemmAvx512Packed.MR != 0 || mc > 4096
            || nc < GemmAvx512Packed.NR || nc % GemmAvx512Packed.NR != 0 || nc > 65536)
            throw new InvalidOperationException($"TESSERA_GEMM_BLOCKING: expected KC,MC,NC (KC 8-4096, MC a multiple of {GemmAvx512Packed.MR} up to 4096, NC a multiple of {GemmAvx512Packed.NR} up to 65536), found '{text}'; unset it to use the blocking chosen from this CPU's caches");
        return new GemmBlocking(kc, mc, nc);
    }
}
