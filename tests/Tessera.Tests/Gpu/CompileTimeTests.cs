using Tessera.Engine.Compiler;
using Tessera.Kernels.Gpu;
using Xunit;
using Xunit.Abstractions;

namespace Tessera.Tests.Gpu;

/// <summary>
/// Prints first-compile, warm-compile and cached-lookup times of every registered kernel
/// (see docs/GPU.md; run with --logger "console;verbosity=detailed" to see the table).
/// </summary>
public class CompileTimeTests(ITestOutputHelper output)
{
    [Fact]
    public void CachedLookupIsFarCheaperThanCompiling()
    {
        List<CompileTiming> timings = CompileTimer.Measure(GpuKernelTable.All);
        output.WriteLine(CompileTimer.Table(timings));
        Assert.Equal(GpuKernelTable.All.Count, timings.Count);
        foreach (CompileTiming t in timings)
            Assert.True(t.CachedMicroseconds / 1000 < t.WarmMilliseconds, $"{t.Kernel}: a cached lookup ({t.CachedMicroseconds} µs) should cost less than compiling ({t.WarmMilliseconds} ms)");
    }
}
