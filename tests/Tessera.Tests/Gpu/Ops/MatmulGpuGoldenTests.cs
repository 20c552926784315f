using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The matmul, bmm and linear cases of the core goldens (tools/goldens/gen_core.py) on cuda-emu.</summary>
public sealed class MatmulGpuGoldenTests
{
    private static readonly string[] s_ops = ["matmul", "bmm", "linear"];

    public static TheoryData<string> Cases
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var c in GoldenFile.Load("core"))
                if (s_ops.Contains(c.Op))
                    data.Add(c.Name);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OnEmulatedGpu(string name) =>
        GoldenRunner.Run(GoldenFile.Get("core", name), Run, Tolerance.Loose, Tolerance.Loose, Device.Parse("cuda-emu"));

    /// <summary>The same cases on a real GPU (skipped with the reason when there is none).</summary>
    [Tessera.Tests.Gpu.CudaTheory]
    [MemberData(nameof(Cases))]
    public void OnCuda(string name) =>
        GoldenRunner.Run(GoldenFile.Get("core", name), Run, Tolerance.Loose, Tolerance.Loose, Device.Parse("cuda"));

    private static Tensor[] Run(GoldenCase c, IReadOnlyDictionary<string, Tensor> t) => c.Op switch
    {
        "matmul" => [F.Matmul(t["a"], t["b"])],
        "bmm" => [F.Bmm(t["a"], t["b"])],
        "linear" => [F.Linear(t["x"], t["w"], t.GetValueOrDefault("b"))],
        _ => throw new InvalidOperationException($"'{c.Op}' is not a matmul-family golden"),
    };
}
