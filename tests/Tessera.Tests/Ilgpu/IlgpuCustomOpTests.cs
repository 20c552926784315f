using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Compiler;
using Tessera.Ilgpu;
using Tessera.Ilgpu.Samples;
using Tessera.Tests.Gpu;
using Xunit;

namespace Tessera.Tests.Ilgpu;

/// <summary>
/// The ILGPU sample custom ops on cuda-emu against C# CPU references, forward and gradients
/// (finite differences through the emulator), and the errors of the custom-op API.
/// </summary>
public class IlgpuCustomOpTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly Device Emu = Device.Parse("cuda-emu");

    [Fact]
    public void SwiGluForwardAndBackwardOnTheEmulatorMatchTheCpuImplementation()
    {
        float[] gate = GpuTestSupport.RandomFloats(300, 1, -4f, 4f), value = GpuTestSupport.RandomFloats(300, 2), upstream = GpuTestSupport.RandomFloats(300, 3);
        (float[] Y, float[] Gate, float[] Value) Run(Device device)
        {
            Tensor g = Tensor.FromData<float>(gate, [3, 100]).To(device).RequireGrad(true);
            Tensor v = Tensor.FromData<float>(value, [3, 100]).To(device).RequireGrad(true);
            Tensor y = new FusedSwiGlu().Apply(g, v);
            Functional.Sum(y * Tensor.FromData<float>(upstream, [3, 100]).To(device)).Backward();
            return (y.ToArray<float>(), g.Grad!.ToArray<float>(), v.Grad!.ToArray<float>());
        }
        var cpu = Run(Device.Cpu);
        var emu = Run(Emu);
        // The emulator's ex2.approx is correctly rounded; MathF.Exp differs from exp2(x·log2 e) in the last bits.
        GpuTestSupport.AssertClose(cpu.Y, emu.Y, 1e-6f, 1e-5f, "SwiGLU forward");
        GpuTestSupport.AssertClose(cpu.Gate, emu.Gate, 1e-6f, 1e-5f, "SwiGLU grad gate");
        GpuTestSupport.AssertClose(cpu.Value, emu.Value, 1e-6f, 1e-5f, "SwiGLU grad value");
        float silu = 1.5f / (1f + MathF.Exp(-1.5f));
        Assert.Equal(silu * 2f, new FusedSwiGlu().Apply(Tensor.FromArray([1.5f], 1).To(Emu), Tensor.FromArray([2f], 1).To(Emu)).Item(), 5);
    }

    [Fact]
    public void SwiGluGradientsOnTheEmulatorMatchFiniteDifferences()
    {
        Tensor g = Tensor.FromData<float>(GpuTestSupport.RandomFloats(12, 4, -3f, 3f), [2, 6]).RequireGrad(true);
        Tensor v = Tensor.FromData<float>(GpuTestSupport.RandomFloats(12, 5), [2, 6]).RequireGrad(true);
        GradCheckResult result = GradCheck.Run(x => new FusedSwiGlu().Apply(x[0].To(Emu), x[1].To(Emu)).To(Device.Cpu), [g, v]);
        Assert.True(result.Passed, result.Report);
    }

    [Fact]
    public void RowTopKOnTheEmulatorMatchesASortedReferenceWithTiesToTheLowerIndex()
    {
        const int rows = 3, columns = 300, k = 5;
        float[] x = GpuTestSupport.RandomFloats(rows * columns, 6);
        x[10] = x[20] = 5f;                      // a tie in row 0: index 10 first
        x[columns + 299] = 7f;                   // the last column of row 1
        var op = new RowTopK(k);
        float[] values = op.Apply(Tensor.FromData<float>(x, [rows, columns]).To(Emu)).ToArray<float>();
        int[] indices = op.Indices!.ToArray<int>();
        for (int r = 0; r < rows; r++)
        {
            int[] expected = Enumerable.Range(0, columns).OrderByDescending(c => x[r * columns + c]).ThenBy(c => c).Take(k).ToArray();
            Assert.Equal(expected, indices.AsSpan(r * k, k).ToArray());
            Assert.Equal(expected.Select(c => x[r * columns + c]).ToArray(), values.AsSpan(r * k, k).ToArray());
        }
        Assert.Equal([10, 20], indices.AsSpan(0, 2).ToArray());
        Assert.Equal(299, indices[k]);
    }

    [Fact]
    public void RowTopKGradientScattersToTheChosenColumns()
    {
        Tensor x = Tensor.FromData<float>(GpuTestSupport.RandomFloats(2 * 40, 7, -10f, 10f), [2, 40]).RequireGrad(true);
        GradCheckResult result = GradCheck.Run(t => new RowTopK(3).Apply(t[0].To(Emu)).To(Device.Cpu), [x], eps: 1e-3f);
        Assert.True(result.Passed, result.Report);

        var op = new RowTopK(2);
        Tensor leaf = x.Detach().To(Emu).RequireGrad(true);
        Functional.Sum(op.Apply(leaf) * Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2).To(Emu)).Backward();
        float[] grad = leaf.Grad!.ToArray<float>();
        int[] chosen = op.Indices!.ToArray<int>();
        var expected = new float[80];
        for (int j = 0; j < 4; j++)
            expected[j / 2 * 40 + chosen[j]] += j + 1;
        Assert.Equal(expected, grad);
    }

    [Fact]
    public void CpuTensorsAreAClearErrorUnlessTheOpHasACpuImplementation()
    {
        var error = Assert.Throws<TensorDeviceException>(() => new RowTopK(1).Apply(Tensor.Zeros(2, 4)));
        Assert.Contains("cuda-emu", error.Message, StringComparison.Ordinal);
        Assert.Contains("CPU implementation", error.Message, StringComparison.Ordinal);
        // FusedSwiGlu has one: it runs on the CPU.
        Assert.Equal(0f, new FusedSwiGlu().Apply(Tensor.Zeros(2), Tensor.Zeros(2)).ToArray<float>()[0]);
        var mixed = Assert.Throws<TensorDeviceException>(() => new FusedSwiGlu().Apply(Tensor.Zeros(2), Tensor.Zeros(2).To(Emu)));
        Assert.Contains("input 1", mixed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LaunchArgumentsAreChecked()
    {
        Tensor a = Tensor.Zeros(4).To(Emu), y = Tensor.Zeros(4).To(Emu);
        var dtype = Assert.Throws<TensorDTypeException>(() => IlgpuLaunch.Implicit(FusedSwiGluKernels.Forward, 4, a, Tensor.Zeros([4], DType.Int32, Emu), y));
        Assert.Contains("'value'", dtype.Message, StringComparison.Ordinal);
        var count = Assert.Throws<ArgumentException>(() => IlgpuLaunch.Implicit(FusedSwiGluKernels.Forward, 4, a, y));
        Assert.Contains("takes 3 arguments", count.Message, StringComparison.Ordinal);
        var grouping = Assert.Throws<ArgumentException>(() => IlgpuLaunch.Explicit(FusedSwiGluKernels.Forward, 1, 32, a, a, y));
        Assert.Contains("Implicit", grouping.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CompilationIsCachedPerMethodAndArchitecture()
    {
        var method = typeof(FusedSwiGluKernels).GetMethod(nameof(FusedSwiGluKernels.Backward))!;
        IlgpuKernel sm80 = IlgpuCompiler.Compile(method, IlgpuGrouping.Implicit, GpuTarget.Sm80);
        Assert.Same(sm80, IlgpuCompiler.Compile(method, IlgpuGrouping.Implicit, GpuTarget.Sm80));
        IlgpuKernel sm90 = IlgpuCompiler.Compile(method, IlgpuGrouping.Implicit, GpuTarget.Sm90);
        Assert.NotSame(sm80, sm90);
        Assert.Equal(GpuTarget.Sm90, sm90.Target);
        // ILGPU 1.5.3 writes '.target sm_80' for SM_90 too (its PTX is forward compatible; ptxas -arch=sm_90 assembles it).
        Assert.Contains(".target sm_80", sm90.Ptx, StringComparison.Ordinal);
        // MathF.FusedMultiplyAdd is remapped to one exact fma (no unresolved extern function).
        Assert.Contains("fma.rn.f32", sm80.Ptx, StringComparison.Ordinal);
        Assert.DoesNotContain(".extern .func", sm80.Ptx, StringComparison.Ordinal);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static float Polynomial(float x, int degree)
    {
        float sum = 0f;
        for (int p = 0; p < degree; p++)
            sum = sum * x + 1f;
        return sum;
    }

    private static void PolynomialKernel(ILGPU.Index1D i, ILGPU.ArrayView<float> x, int degree, ILGPU.ArrayView<float> y) => y[i] = Polynomial(x[i], degree);

    [Fact]
    public void KernelsCallingFunctionsIlgpuDoesNotInlineRunOnTheEmulator()
    {
        IlgpuKernel kernel = IlgpuCompiler.Compile(typeof(IlgpuCustomOpTests).GetMethod(nameof(PolynomialKernel), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!, IlgpuGrouping.Implicit);
        Assert.Contains("call.uni", kernel.Ptx, StringComparison.Ordinal); // a .func and a call with .param arguments
        float[] x = GpuTestSupport.RandomFloats(100, 8);
        Tensor y = Tensor.Empty([100], DType.Float32, Emu);
        IlgpuLaunch.Implicit(kernel.Method, 100, Tensor.FromData<float>(x, [100]).To(Emu), 4, y);
        float[] expected = x.Select(v => Polynomial(v, 4)).ToArray();
        Assert.Equal(expected, y.ToArray<float>());
    }

    private static void XMathKernel(ILGPU.Index1D i, ILGPU.ArrayView<float> x, ILGPU.ArrayView<float> y)
        => y[i] = ILGPU.Algorithms.XMath.Max(ILGPU.Algorithms.XMath.Tanh(x[i]), ILGPU.Algorithms.XMath.Sqrt(ILGPU.Algorithms.XMath.Abs(x[i])) - 1f);

    [Fact]
    public void XMathRunsOnTheEmulator()
    {
        float[] x = GpuTestSupport.RandomFloats(64, 9, -3f, 3f);
        Tensor y = Tensor.Empty([64], DType.Float32, Emu);
        IlgpuLaunch.Implicit(typeof(IlgpuCustomOpTests).GetMethod(nameof(XMathKernel), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!, 64, Tensor.FromData<float>(x, [64]).To(Emu), y);
        float[] expected = x.Select(v => MathF.Max(MathF.Tanh(v), MathF.Sqrt(MathF.Abs(v)) - 1f)).ToArray();
        GpuTestSupport.AssertClose(expected, y.ToArray<float>(), 1e-5f, 1e-5f, "XMath");
    }

    public static IEnumerable<object[]> SampleKernels() =>
    [
        [typeof(FusedSwiGluKernels), nameof(FusedSwiGluKernels.Forward), IlgpuGrouping.Implicit],
        [typeof(FusedSwiGluKernels), nameof(FusedSwiGluKernels.Backward), IlgpuGrouping.Implicit],
        [typeof(RowTopKKernels), nameof(RowTopKKernels.Forward), IlgpuGrouping.Explicit],
        [typeof(RowTopKKernels), nameof(RowTopKKernels.Backward), IlgpuGrouping.Explicit],
    ];

    /// <summary>
    /// Also prints the measured table of docs/GPU.md ("Custom ops with ILGPU"):
    /// dotnet test tests/Tessera.Tests -c Release --filter "FullyQualifiedName~IlgpuCustomOpTests.SamplePtx" --logger "console;verbosity=detailed"
    /// </summary>
    [PtxasFact]
    public void SamplePtxAssemblesWithPtxasForSm80AndSm90WithoutSpills()
    {
        string ptxas = Ptxas.Find()!;
        var rows = new List<string> { "| kernel | target | PTX lines | registers | spill bytes | shared (B) | warm ILGPU compile (ms) |", "|---|---|---:|---:|---:|---:|---:|" };
        foreach (object[] sample in SampleKernels())
            foreach (GpuTarget target in new[] { GpuTarget.Sm80, GpuTarget.Sm90 })
            {
                var method = ((Type)sample[0]).GetMethod((string)sample[1])!;
                var grouping = (IlgpuGrouping)sample[2];
                IlgpuKernel kernel = IlgpuCompiler.Compile(method, grouping, target);
                PtxasReport report = Ptxas.Check(ptxas, kernel.Ptx, kernel.EntryName, target);
                Assert.False(report.Spills, $"{kernel} spills: {report.Log}");
                var times = new List<double>();
                for (int r = 0; r < 3; r++)
                {
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    IlgpuCompiler.CompileUncached(method, grouping, target);
                    times.Add(clock.Elapsed.TotalMilliseconds);
                }
                times.Sort();
                rows.Add(FormattableString.Invariant($"| {((Type)sample[0]).Name}.{method.Name} | {report.Target} | {kernel.Ptx.Split('\n').Length} | {report.Registers} | {report.SpillStoreBytes + report.SpillLoadBytes} | {report.SharedBytes} | {times[1]:F1} |"));
            }
        output.WriteLine(string.Join('\n', rows));
    }
}
