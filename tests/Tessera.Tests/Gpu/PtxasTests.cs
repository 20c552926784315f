using Tessera.Engine.Compiler;
using Tessera.Kernels.Gpu;
using Xunit;
using Xunit.Abstractions;

namespace Tessera.Tests.Gpu;

/// <summary>
/// Offline validation: every registered kernel assembles with ptxas for sm_80 and sm_90 without
/// spills. Prints the resource table (run with --logger "console;verbosity=detailed" to see it).
/// </summary>
public class PtxasTests(ITestOutputHelper output)
{
    [PtxasFact]
    public void EveryRegisteredKernelAssemblesWithoutSpills()
    {
        string ptxas = Ptxas.Find()!;
        var reports = new List<PtxasReport>();
        var failures = new List<string>();
        foreach (GpuTarget target in new[] { GpuTarget.Sm80, GpuTarget.Sm90 })
            foreach (KernelEntry entry in GpuKernelTable.All)
            {
                try
                {
                    PtxasReport report = Ptxas.Check(ptxas, entry.Compile(target)) with { Kernel = entry.Name };
                    reports.Add(report);
                    if (report.Spills)
                        failures.Add($"{entry.Name} ({report.Target}) spills {report.SpillStoreBytes} B / {report.SpillLoadBytes} B");
                }
                catch (InvalidOperationException e)
                {
                    failures.Add(e.Message);
                }
            }
        output.WriteLine(Ptxas.Table(reports));
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(2 * GpuKernelTable.All.Count, reports.Count);
    }

    [PtxasFact]
    public void FeatureTestKernelsAssemble()
    {
        // Conversions, 64-bit and CAS atomics, fences, every shuffle mode, struct functors, loops with break.
        string ptxas = Ptxas.Find()!;
        var kernels = typeof(TestKernels).GetMethods().Concat(typeof(LanguageKernels).GetMethods())
            .Where(m => m.GetCustomAttributes(typeof(Tessera.Engine.Gpu.KernelAttribute), false).Length > 0)
            .Select(m => m.IsGenericMethodDefinition ? m.MakeGenericMethod(typeof(Affine)) : m)
            .ToList();
        Assert.True(kernels.Count >= 10);
        foreach (GpuTarget target in new[] { GpuTarget.Sm80, GpuTarget.Sm90 })
            foreach (var m in kernels)
            {
                var constants = new Dictionary<string, object>();
                if (m.Name == nameof(TestKernels.FillRepeated))
                    constants["repeat"] = 3;
                PtxasReport report = Ptxas.Check(ptxas, KernelCompiler.Compile(m, target, constants));
                Assert.False(report.Spills, $"{m.Name} spills on {report.Target}");
            }
    }

    [PtxasFact]
    public void BrokenPtxIsReportedWithTheLog()
    {
        CompiledKernel good = GpuKernelTable.All[0].Compile();
        var broken = (CompiledKernel)typeof(CompiledKernel).GetConstructors(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)[0]
            .Invoke([good.Method, good.EntryName, good.Ptx.Replace("add.rn.f32", "add.bogus.f32", StringComparison.Ordinal), good.Target, good.Specialisation, 0, TimeSpan.Zero]);
        var error = Assert.Throws<InvalidOperationException>(() => Ptxas.Check(Ptxas.Find()!, broken));
        Assert.Contains("ptxas rejected", error.Message, StringComparison.Ordinal);
    }
}
