using System.Runtime.CompilerServices;
using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Kernels.Gpu.Samples;
using Xunit;

namespace Tessera.Tests.Gpu;

public class CompilerFeatureTests
{
    [Fact]
    public void StaticReadonlyFieldsBecomeConstants()
    {
        CompiledKernel k = KernelCompiler.Compile(typeof(TestKernels).GetMethod(nameof(TestKernels.ScaleByStaticReadonly))!);
        Assert.Contains("0f40400000", k.Ptx, StringComparison.Ordinal); // 3.0f as an immediate
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, [1f, 2f, 3f]);
        using var output = DeviceBuffer<float>.Allocate(driver, 3);
        launcher.Launch(k, 1, 32, 0, input, output);
        Assert.Equal([3f, 6f, 9f], output.ToArray());
    }

    [Fact]
    public void StructFunctorParameterIsFlattenedAndInlined()
    {
        var method = typeof(TestKernels).GetMethod(nameof(TestKernels.ApplyFunctor))!.MakeGenericMethod(typeof(Affine));
        CompiledKernel k = KernelCompiler.Compile(method);
        Assert.Contains(".param .f32", k.Ptx, StringComparison.Ordinal);
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, [1f, 2f, 3f]);
        using var output = DeviceBuffer<float>.Allocate(driver, 3);
        launcher.Launch(k, 1, 32, 0, input, new Affine { Scale = 2f, Bias = 0.5f }, output);
        Assert.Equal([2.5f, 4.5f, 6.5f], output.ToArray());
    }

    [Fact]
    public void SpecialisationConstantsAreBakedInAndUnrolled()
    {
        var method = typeof(TestKernels).GetMethod(nameof(TestKernels.FillRepeated))!;
        CompiledKernel four = KernelCompiler.Compile(method, GpuTarget.Sm80, new Dictionary<string, object> { ["repeat"] = 4 });
        CompiledKernel five = KernelCompiler.Compile(method, GpuTarget.Sm80, new Dictionary<string, object> { ["repeat"] = 5 });
        Assert.NotSame(four, five);
        Assert.Contains("repeat4", four.EntryName, StringComparison.Ordinal);
        // The constant-trip loop is gone: four adds, no backward branch.
        Assert.Equal(4, CountOccurrences(four.Ptx, "add.rn.f32"));
        Assert.Equal(5, CountOccurrences(five.Ptx, "add.rn.f32"));
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var output = DeviceBuffer<float>.Allocate(driver, 10);
        launcher.Launch(four, 1, 32, 0, output, 4, 0.25f);
        Assert.All(output.ToArray(), v => Assert.Equal(1f, v));
        var mismatch = Assert.Throws<ArgumentException>(() => launcher.Launch(four, 1, 32, 0, output, 5, 0.25f));
        Assert.Contains("specialised with repeat = 4", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CacheKeysOnMethodGenericArgumentsAndTarget()
    {
        var map = typeof(ElementwiseMap).GetMethod("Map")!;
        CompiledKernel a = KernelCompiler.Compile(map.MakeGenericMethod(typeof(float), typeof(Relu)));
        CompiledKernel b = KernelCompiler.Compile(map.MakeGenericMethod(typeof(float), typeof(Relu)));
        CompiledKernel c = KernelCompiler.Compile(map.MakeGenericMethod(typeof(float), typeof(GeluTanh)));
        CompiledKernel d = KernelCompiler.Compile(map.MakeGenericMethod(typeof(float), typeof(Relu)), GpuTarget.Sm90);
        Assert.Same(a, b);
        Assert.NotSame(a, c);
        Assert.NotSame(a, d);
        Assert.Contains(".target sm_80", a.Ptx, StringComparison.Ordinal);
        Assert.Contains(".target sm_90", d.Ptx, StringComparison.Ordinal);
        Assert.Contains(".version 7.8", a.Ptx, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(typeof(VectorAdd), nameof(VectorAdd.Add))]
    [InlineData(typeof(BlockReduce), nameof(BlockReduce.Sum))]
    [InlineData(typeof(RowSoftmax), nameof(RowSoftmax.Forward))]
    public void PtxMatchesGoldenSnapshot(Type owner, string name)
    {
        // Instruction selection is reviewable: regenerate with TESSERA_UPDATE_GOLDENS=1 (in Debug and in Release)
        // when it changes on purpose. Debug and Release IL differ (e.g. a compare kept in a local), so each has its file.
        CompiledKernel kernel = KernelCompiler.Compile(owner.GetMethod(name)!);
        string golden = Path.Combine(Path.GetDirectoryName(SourcePath())!, "Goldens", $"{kernel.EntryName}.{Configuration}.ptx");
        if (Environment.GetEnvironmentVariable("TESSERA_UPDATE_GOLDENS") == "1")
            File.WriteAllText(golden, kernel.Ptx);
        Assert.True(File.Exists(golden), $"missing golden {golden}; create it with TESSERA_UPDATE_GOLDENS=1");
        Assert.Equal(File.ReadAllText(golden), kernel.Ptx);
    }

    [Fact]
    public void ConversionsFollowCSharpSemantics()
    {
        float[] x = [-7.9f, -1.5f, 0f, 2.5f, 1234.56f, 30000.7f];
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, x);
        using var asInt = DeviceBuffer<int>.Allocate(driver, x.Length);
        using var asUnsigned = DeviceBuffer<uint>.Allocate(driver, x.Length);
        using var asLong = DeviceBuffer<long>.Allocate(driver, x.Length);
        using var asDouble = DeviceBuffer<double>.Allocate(driver, x.Length);
        using var asShort = DeviceBuffer<short>.Allocate(driver, x.Length);
        launcher.Launch(typeof(TestKernels).GetMethod(nameof(TestKernels.Conversions))!, 1, 32, input, asInt, asUnsigned, asLong, asDouble, asShort);
        Assert.Equal(x.Select(v => (int)v).ToArray(), asInt.ToArray());
        Assert.Equal(x.Select(v => (uint)MathF.Abs(v) >> 1).ToArray(), asUnsigned.ToArray());
        Assert.Equal(x.Select(v => (long)v * 3_000_000_000L).ToArray(), asLong.ToArray());
        Assert.Equal(x.Select(v => v / 3.0).ToArray(), asDouble.ToArray());
        Assert.Equal(x.Select(v => (short)((int)v * 1000)).ToArray(), asShort.ToArray());
    }

    [Fact]
    public void CompileTimeIsRecorded()
    {
        var method = typeof(Sgemm).GetMethod(nameof(Sgemm.SharedRegisterTiled))!;
        CompiledKernel fresh = KernelCompiler.CompileUncached(method, GpuTarget.Sm80, new Dictionary<string, object>());
        Assert.True(fresh.CompileTime > TimeSpan.Zero);
        Assert.Equal(KernelCompiler.Compile(method).Ptx, fresh.Ptx);
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static string SourcePath([CallerFilePath] string path = "") => path;

    private static int CountOccurrences(string text, string what)
    {
        int count = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + 1, StringComparison.Ordinal))
            count++;
        return count;
    }
}
