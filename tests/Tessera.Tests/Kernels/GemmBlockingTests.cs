using Tessera.Kernels.Cpu;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>The GEMM's cache blocks follow the caches: the rule on known processors, and its bounds.</summary>
public class GemmBlockingTests
{
    [Theory]
    [InlineData(48 * 1024, 1024 * 1024, 256, 96, 1024)]    // AMD Zen 5 (EPYC 9005): 48 KiB L1d, 1 MiB L2 (the blocks measured best here)
    [InlineData(48 * 1024, 2048 * 1024, 256, 200, 2048)]   // Intel Sapphire Rapids: 48 KiB L1d, 2 MiB L2
    [InlineData(32 * 1024, 512 * 1024, 160, 80, 800)]      // AMD Zen 3: 32 KiB L1d, 512 KiB L2
    [InlineData(32 * 1024, 256 * 1024, 160, 48, 384)]      // small L2: MC's lower bound holds
    public void BlocksFollowTheCaches(int l1, int l2, int kc, int mc, int nc)
    {
        var blocking = GemmBlocking.For(l1, l2);
        Assert.Equal(new GemmBlocking(kc, mc, nc), blocking);
        Assert.Equal(0, blocking.MC % GemmAvx512Packed.MR);
        Assert.Equal(0, blocking.NC % GemmAvx512Packed.NR);
        // The micro-panels fit L1, the A block a tenth of L2 (above MC's lower bound), the B block L2.
        Assert.True(blocking.KC * (GemmAvx512Packed.NR + GemmAvx512Packed.MR) * 4 <= l1);
        Assert.True(blocking.MC == 48 || (long)blocking.KC * blocking.MC * 4 <= l2 / 10);
        Assert.True((long)blocking.KC * blocking.NC * 4 <= l2);
    }

    [Fact]
    public void ThisProcessUsesTheRuleForItsOwnCpu()
    {
        if (Environment.GetEnvironmentVariable("TESSERA_GEMM_BLOCKING") is not null) return;
        Assert.Equal(GemmBlocking.For(Tessera.Engine.CpuInfo.L1DataBytes, Tessera.Engine.CpuInfo.L2Bytes), GemmBlocking.Current);
    }
}
