using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

public enum UnaryOp { Negate, Abs, Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Relu, GeluErf, GeluTanh, Silu, Sign }

/// <summary>Elementwise float32 maps over dense memory, split across threads in large chunks.</summary>
public static unsafe class Unary
{
    private const int Grain = 16_384;

    /// <summary>y[i] = op(x[i]); x and y may alias. Overwrites y.</summary>
    public static void Run(UnaryOp op, float* x, float* y, int count) =>
        CpuParallel.For(count, Grain, (from, to) => RunChunk(op, new ReadOnlySpan<float>(x + from, to - from), new Span<float>(y + from, to - from)));

    /// <summary>y[i] = clamp(x[i], min, max). Overwrites y.</summary>
    public static void Clamp(float* x, float min, float max, float* y, int count) =>
        CpuParallel.For(count, Grain, (from, to) =>
        {
            var output = new Span<float>(y + from, to - from);
            TensorPrimitives.Max(new ReadOnlySpan<float>(x + from, to - from), min, output);
            TensorPrimitives.Min(output, max, output);
        });

    /// <summary>y[i] = x[i]^exponent. Overwrites y.</summary>
    public static void PowScalar(float* x, float exponent, float* y, int count) =>
        CpuParallel.For(count, Grain, (from, to) => TensorPrimitives.Pow(new ReadOnlySpan<float>(x + from, to - from), exponent, new Span<float>(y + from, to - from)));

    /// <summary>y[i] = x[i] * scale + shift. Overwrites y.</summary>
    public static void Affine(float* x, float scale, float shift, float* y, int count) =>
        CpuParallel.For(count, Grain, (from, to) =>
        {
            var output = new Span<float>(y + from, to - from);
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(x + from, to - from), scale, output);
            TensorPrimitives.Add(output, shift, output);
        });

    /// <summary>gradInput[i] = gradOutput[i] * d op(x)/dx at x[i], for the ops whose derivative needs x. Overwrites gradInput.</summary>
    public static void Backward(UnaryOp op, float* x, float* gradOutput, float* gradInput, int count) =>
        CpuParallel.For(count, Grain, (from, to) =>
        {
            int i = from;
            if (op == UnaryOp.GeluErf && Vector512.IsHardwareAccelerated)
                i += GeluVector.Backward(x + from, gradOutput + from, gradInput + from, to - from);
            if (op == UnaryOp.Relu && Vector512.IsHardwareAccelerated)
            {
                // gradInput = x > 0 ? gradOutput : 0
                for (; i <= to - 16; i += 16)
                    Vector512.ConditionalSelect(Vector512.GreaterThan(Vector512.Load(x + i), Vector512<float>.Zero), Vector512.Load(gradOutput + i), Vector512<float>.Zero).Store(gradInput + i);
            }
            for (; i < to; i++)
                gradInput[i] = gradOutput[i] * Derivative(op, x[i]);
        });

    private static void RunChunk(UnaryOp op, ReadOnlySpan<float> x, Span<float> y)
    {
        switch (op)
        {
            case UnaryOp.Negate: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Rsqrt: TensorPrimitives.ReciprocalSqrt(x, y); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, 0f, y); break;
            case UnaryOp.Silu:
                TensorPrimitives.Sigmoid(x, y);
                TensorPrimitives.Multiply(x, y, y);
                break;
            case UnaryOp.GeluErf when Vector512.IsHardwareAccelerated:
                fixed (float* px = x, py = y)
                {
                    int done = GeluVector.Forward(px, py, x.Length);
                    for (int i = done; i < x.Length; i++) py[i] = Scalar(op, px[i]);
                }
                break;
            default:
                for (int i = 0; i < x.Length; i++) y[i] = Scalar(op, x[i]);
                break;
        }
    }

    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;
    private const float Sqrt2OverPi = 0.79788456080286536f;
    private const float TanhCoefficient = 0.044715f;

    /// <summary>The scalar definition of every op (the reference the vector paths must match).</summary>
    public static float Scalar(UnaryOp op, float x) => op switch
    {
        UnaryOp.Negate => -x,
        UnaryOp.Abs => MathF.Abs(x),
        UnaryOp.Exp => MathF.Exp(x),
        UnaryOp.Log => MathF.Log(x),
        UnaryOp.Sqrt => MathF.Sqrt(x),
        UnaryOp.Rsqrt => 1f / MathF.Sqrt(x),
        UnaryOp.Tanh => MathF.Tanh(x),
        UnaryOp.Sigmoid => 1f / (1f + MathF.Exp(-x)),
        UnaryOp.Relu => x > 0f ? x : 0f,
        UnaryOp.GeluErf => 0.5f * x * (1f + SpecialMath.Erf(x * InvSqrt2)),
        UnaryOp.GeluTanh => 0.5f * x * (1f + MathF.Tanh(Sqrt2OverPi * (x + TanhCoefficient * x * x * x))),
        UnaryOp.Silu => x / (1f + MathF.Exp(-x)),
        UnaryOp.Sign => x > 0f ? 1f : x < 0f ? -1f : 0f,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    /// <summary>d op(x) / dx.</summary>
    public static float Derivative(UnaryOp op, float x)
    {
        switch (op)
        {
            case UnaryOp.GeluErf:
                return 0.5f * (1f + SpecialMath.Erf(x * InvSqrt2)) + x * InvSqrt2Pi * MathF.Exp(-0.5f * x * x);
            case UnaryOp.GeluTanh:
            {
                float inner = Sqrt2OverPi * (x + TanhCoefficient * x * x * x);
                float t = MathF.Tanh(inner);
                return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * Sqrt2OverPi * (1f + 3f * TanhCoefficient * x * x);
            }
            case UnaryOp.Silu:
            {
                float s = 1f / (1f + MathF.Exp(-x));
                return s * (1f + x * (1f - s));
            }
            case UnaryOp.Relu:
                return x > 0f ? 1f : 0f;
            case UnaryOp.Abs:
                return x > 0f ? 1f : x < 0f ? -1f : 0f;
            case UnaryOp.Log:
                return 1f / x;
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op, "this op's derivative is expressed through its output, not here");
        }
    }
}

/// <summary>Special functions .NET's MathF lacks.</summary>
public static class SpecialMath
{
    /// <summary>
    /// erf(x), computed in double from the Chebyshev-fitted erfc of Numerical Recipes
    /// (fractional error below 1.2e-7), then rounded: accurate to float32 rounding.
    /// </summary>
    public static float Erf(float x)
    {
        double z = Math.Abs((double)x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double erfc = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        double erf = 1.0 - erfc;
        return (float)(x >= 0 ? erf : -erf);
    }
}

/// <summary>
/// GELU (erf form) 16 lanes at a time. erf uses Abramowitz and Stegun 7.1.26
/// (|error| &lt;= 1.5e-7), so results differ from the double-precision scalar path by ~1e-7
/// relative; the goldens hold both to PyTorch within 1e-5 + 1e-4·|ref|.
/// </summary>
internal static unsafe class GeluVector
{
    private const float P = 0.3275911f;
    private const float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;

    /// <summary>y = gelu(x) for the largest multiple of 16 elements; returns how many were done.</summary>
    public static int Forward(float* x, float* y, int count)
    {
        int i = 0;
        for (; i <= count - 16; i += 16)
        {
            var v = Vector512.Load(x + i);
            var (erf, _) = Erf(v * InvSqrt2);
            (0.5f * v * (Vector512<float>.One + erf)).Store(y + i);
        }
        return i;
    }

    /// <summary>gradInput = gradOutput · (Φ(x) + x·φ(x)) for the largest multiple of 16 elements; returns how many were done.</summary>
    public static int Backward(float* x, float* gradOutput, float* gradInput, int count)
    {
        int i = 0;
        for (; i <= count - 16; i += 16)
        {
            var v = Vector512.Load(x + i);
            var (erf, gaussian) = Erf(v * InvSqrt2);
            // gaussian = exp(-x²/2), so φ(x) = gaussian / sqrt(2π)
            var derivative = 0.5f * (Vector512<float>.One + erf) + v * gaussian * InvSqrt2Pi;
            (Vector512.Load(gradOutput + i) * derivative).Store(gradInput + i);
        }
        return i;
    }

    /// <summary>erf(z) and exp(-z²).</summary>
    private static (Vector512<float> Erf, Vector512<float> Gaussian) Erf(Vector512<float> z)
    {
        var a = Vector512.Abs(z);
        var t = Vector512<float>.One / (Vector512<float>.One + P * a);
        var poly = ((((A5 * t + Vector512.Create(A4)) * t + Vector512.Create(A3)) * t + Vector512.Create(A2)) * t + Vector512.Create(A1)) * t;
        var gaussian = Vector512.Exp(-(z * z));
        var magnitude = Vector512<float>.One - poly * gaussian;
        return (Vector512.ConditionalSelect(Vector512.LessThan(z, Vector512<float>.Zero), -magnitude, magnitude), gaussian);
    }
}
