using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu.Samples;
using Xunit;

namespace Tessera.Tests.Gpu;

public readonly struct ExpOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Exp(x); }
public readonly struct LogOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Log(x); }
public readonly struct TanhOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Tanh(x); }
public readonly struct ErfOp : IUnaryOp<float> { public static float Apply(float x) => DeviceMath.Erf(x); }
public readonly struct PowOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Pow(x, 2.5f); }
public readonly struct SinOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Sin(x); }
public readonly struct CosOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Cos(x); }
public readonly struct SqrtOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Sqrt(x); }
public readonly struct RsqrtOp : IUnaryOp<float> { public static float Apply(float x) => MathF.ReciprocalSqrtEstimate(x); }
public readonly struct FloorAbsOp : IUnaryOp<float> { public static float Apply(float x) => MathF.Floor(x) + MathF.Abs(x) + MathF.Round(x) + MathF.Ceiling(x) + MathF.Truncate(x); }

/// <summary>
/// Accuracy of each device math function on the emulator against double precision. The emulator
/// evaluates the PTX approximate instructions (ex2/lg2/sin/cos/rsqrt.approx) exactly, so these
/// bounds measure the algorithms; on hardware add the instruction error listed on Ptx.
/// </summary>
public class DeviceMathTests
{
    public static TheoryData<string, float, float, double, double> Cases => new()
    {
        // name, low, high, absolute tolerance, relative tolerance (the accuracy stated per function)
        { "exp", -80f, 80f, 0, 1e-6 },
        { "log", 1e-30f, 1e30f, 2e-7, 1e-6 },
        { "tanh", -10f, 10f, 3e-7, 0 },
        { "erf", -5f, 5f, 5e-7, 0 },
        { "pow", 1e-3f, 100f, 0, 2e-6 },
        { "sin", -1000f, 1000f, 2e-6, 0 },
        { "cos", -1000f, 1000f, 2e-6, 0 },
        { "sqrt", 0f, 1e6f, 0, 1.2e-7 },
        { "rsqrt", 1e-6f, 1e6f, 0, 1.2e-7 },
        { "floor/abs/round/ceiling/truncate", -100f, 100f, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void WithinStatedAccuracy(string name, float low, float high, double atol, double rtol)
    {
        (Type op, Func<double, double> reference) = name switch
        {
            "exp" => (typeof(ExpOp), Math.Exp),
            "log" => (typeof(LogOp), Math.Log),
            "tanh" => (typeof(TanhOp), Math.Tanh),
            "erf" => (typeof(ErfOp), Erf),
            "pow" => (typeof(PowOp), x => Math.Pow(x, 2.5)),
            "sin" => (typeof(SinOp), Math.Sin),
            "cos" => (typeof(CosOp), Math.Cos),
            "sqrt" => (typeof(SqrtOp), Math.Sqrt),
            "rsqrt" => (typeof(RsqrtOp), x => 1 / Math.Sqrt(x)),
            _ => (typeof(FloorAbsOp), (Func<double, double>)(x => Math.Floor(x) + Math.Abs(x) + Math.Round(x, MidpointRounding.ToEven) + Math.Ceiling(x) + Math.Truncate(x))),
        };
        bool logarithmic = name is "log" or "pow" or "sqrt" or "rsqrt";
        const int count = 4096;
        var x = new float[count];
        for (int i = 0; i < count; i++)
        {
            double t = (i + 0.5) / count;
            x[i] = logarithmic ? (float)Math.Exp(Math.Log(Math.Max(low, 1e-30f)) + t * (Math.Log(high) - Math.Log(Math.Max(low, 1e-30f)))) : (float)(low + t * (high - low));
        }
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, x);
        using var output = DeviceBuffer<float>.Allocate(driver, count);
        launcher.Launch(typeof(ElementwiseMap).GetMethod("Map")!.MakeGenericMethod(typeof(float), op), count / 256, 256, input, output);
        float[] y = output.ToArray();
        double worst = 0;
        int at = 0;
        for (int i = 0; i < count; i++)
        {
            double expected = reference(x[i]);
            double excess = Math.Abs(y[i] - expected) - (atol + rtol * Math.Abs(expected));
            if (excess > worst || double.IsNaN(y[i]))
            {
                worst = double.IsNaN(y[i]) ? double.PositiveInfinity : excess;
                at = i;
            }
        }
        Assert.True(worst <= 0, $"{name}({x[at]}) = {y[at]}, reference {reference(x[at])}: beyond atol {atol} + rtol {rtol} by {worst}");
    }

    [Fact]
    public void DeviceMathOnCpuMatchesMathF()
    {
        for (float x = -9f; x < 9f; x += 0.37f)
        {
            Assert.True(Math.Abs(DeviceMath.Exp(x) - Math.Exp(x)) <= 1e-6 * Math.Exp(x), $"exp {x}");
            Assert.True(Math.Abs(DeviceMath.Tanh(x) - Math.Tanh(x)) <= 3e-7, $"tanh {x}");
            Assert.True(Math.Abs(DeviceMath.Erf(x) - Erf(x)) <= 5e-7, $"erf {x}");
        }
    }

    /// <summary>erf in double (Abramowitz–Stegun 7.1.28 is not enough; use the series/continued fraction of W. J. Cody via Math).</summary>
    private static double Erf(double x)
    {
        // Series for |x| < 3, asymptotic complement above; accurate to ~1e-12, far below the f32 bounds tested.
        double a = Math.Abs(x);
        double r;
        if (a < 3)
        {
            double term = a, sum = a;
            for (int n = 1; n < 200; n++)
            {
                term *= -a * a / n;
                sum += term / (2 * n + 1);
            }
            r = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double t = 1 / (2 * a * a), series = 1, term = 1;
            for (int n = 1; n < 12; n++)
            {
                term *= -(2 * n - 1) * t;
                series += term;
            }
            r = 1 - Math.Exp(-a * a) / (a * Math.Sqrt(Math.PI)) * series;
        }
        return x < 0 ? -r : r;
    }
}
