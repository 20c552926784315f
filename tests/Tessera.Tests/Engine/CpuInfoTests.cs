using Tessera.Engine;
using Xunit;

namespace Tessera.Tests.Engine;

/// <summary>CpuInfo reads a model name and plausible cache sizes on whatever processor runs the tests.</summary>
public class CpuInfoTests
{
    [Fact]
    public void CachesArePlausibleAndTheDescriptionNamesThem()
    {
        Assert.False(string.IsNullOrWhiteSpace(CpuInfo.Model));
        Assert.InRange(CpuInfo.L1DataBytes, 8 * 1024, 1024 * 1024);
        Assert.InRange(CpuInfo.L2Bytes, CpuInfo.L1DataBytes, 64 * 1024 * 1024);
        Assert.True(CpuInfo.L3Bytes == 0 || CpuInfo.L3Bytes >= CpuInfo.L2Bytes, $"L3 {CpuInfo.L3Bytes} below L2 {CpuInfo.L2Bytes}");
        Assert.Contains(CpuInfo.VectorBits, new[] { 0, 128, 256, 512 });
        string line = CpuInfo.Describe();
        Assert.StartsWith(CpuInfo.Model, line);
        Assert.Contains($"L2 {CpuInfo.L2Bytes / 1024} KiB", line);
    }
}
