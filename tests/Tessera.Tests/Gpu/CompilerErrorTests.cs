using Tessera.Engine.Compiler;
using Tessera.Engine.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>Kernels that each use one thing the compiler must reject.</summary>
internal static class BrokenKernels
{
    private sealed class Holder
    {
        public float Value = 1f;
    }

    private static float s_mutable = 1f;

    [Kernel]
    public static void UsesClass(DeviceSpan<float> output) => output[0] = new Holder().Value;

    [Kernel]
    public static void Throws(DeviceSpan<float> output)
    {
        if (output.Length == 0)
            throw new InvalidOperationException("empty");
        output[0] = 1f;
    }

    [Kernel]
    public static void CapturesLambda(DeviceSpan<float> output, float scale)
    {
        Func<float, float> f = x => x * scale;
        output[0] = f(2f);
    }

    [Kernel]
    public static void Boxes(DeviceSpan<float> output, float value)
    {
        object boxed = value;
        output[0] = (float)boxed;
    }

    [Kernel]
    public static void Checked(DeviceSpan<int> output, int a) => output[0] = checked(a * 1000);

    [Kernel]
    public static void Recursive(DeviceSpan<int> output, int n) => output[0] = Factorial(n);

    private static int Factorial(int n) => n <= 1 ? 1 : n * Factorial(n - 1);

    [Kernel]
    public static void ReadsMutableStatic(DeviceSpan<float> output) => output[0] = s_mutable;

    [Kernel]
    public static void SharedOfRuntimeSize(DeviceSpan<float> output, int n) => Shared.Allocate<float>(n)[0] = output[0];

    [Kernel]
    public static void DoubleExp(DeviceSpan<double> output) => output[0] = Math.Exp(output[0]);

    [Kernel]
    public static void FloatRemainder(DeviceSpan<float> output) => output[0] %= 3f;

    [Kernel]
    public static void Stackalloc(DeviceSpan<float> output)
    {
        Span<float> scratch = stackalloc float[4];
        scratch[0] = 1f;
        output[0] = scratch[0];
    }

    [Kernel]
    public static void TryFinally(DeviceSpan<float> output)
    {
        try
        {
            output[0] = 1f;
        }
        finally
        {
            output[1] = 2f;
        }
    }

    public static void NotAKernel(DeviceSpan<float> output) => output[0] = 1f;
}

/// <summary>Unsupported C# fails at compile time with the kernel, IL offset, opcode and advice.</summary>
public class CompilerErrorTests
{
    public static TheoryData<string, string[]> Cases => new()
    {
        { nameof(BrokenKernels.UsesClass), ["class type", "newobj", "Use unmanaged structs"] },
        { nameof(BrokenKernels.Throws), ["throws", "Kernels cannot throw"] },
        { nameof(BrokenKernels.CapturesLambda), ["lambda closure", "IUnaryOp"] },
        { nameof(BrokenKernels.Boxes), ["boxed", "box"] },
        { nameof(BrokenKernels.Checked), ["checked arithmetic", ".ovf"] },
        { nameof(BrokenKernels.Recursive), ["calls itself", "loop"] },
        { nameof(BrokenKernels.ReadsMutableStatic), ["static field", "static readonly"] },
        { nameof(BrokenKernels.SharedOfRuntimeSize), ["compile-time constant", "Shared.Dynamic"] },
        { nameof(BrokenKernels.DoubleExp), ["Math.Exp(double)", "MathF"] },
        { nameof(BrokenKernels.FloatRemainder), ["remainder", "MathF.Truncate"] },
        { nameof(BrokenKernels.Stackalloc), ["localloc", "Local.Allocate"] },
        { nameof(BrokenKernels.TryFinally), ["try/catch/finally", "remove the try block", "opcode '.try'"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReportsKernelOffsetOpcodeAndAdvice(string kernel, string[] fragments)
    {
        var method = typeof(BrokenKernels).GetMethod(kernel)!;
        var error = Assert.Throws<KernelCompileException>(() => KernelCompiler.Compile(method));
        Assert.Contains($"kernel 'BrokenKernels.{kernel}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("IL_", error.Message, StringComparison.Ordinal);
        Assert.Contains("opcode '", error.Message, StringComparison.Ordinal);
        foreach (string fragment in fragments)
            Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MethodWithoutAttributeIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => KernelCompiler.Compile(typeof(BrokenKernels).GetMethod(nameof(BrokenKernels.NotAKernel))!));
        Assert.Contains("[Kernel]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenGenericKernelIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => KernelCompiler.Compile(typeof(Tessera.Kernels.Gpu.Samples.ElementwiseMap).GetMethod("Map")!));
        Assert.Contains("MakeGenericMethod", error.Message, StringComparison.Ordinal);
    }
}
