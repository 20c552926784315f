using Tessera.Tests.Goldens;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>Golden case names of a family filtered by op, for the cuda-emu theories that leave some ops to other suites.</summary>
internal static class GpuGoldenCases
{
    public static TheoryData<string> Where(string family, Func<string, bool> keepOp)
    {
        var data = new TheoryData<string>();
        foreach (string name in GoldenFile.CaseNames(family))
        {
            if (keepOp(GoldenFile.Get(family, name).Op))
                data.Add(name);
        }
        return data;
    }
}
