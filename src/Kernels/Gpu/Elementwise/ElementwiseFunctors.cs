using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>A float map whose fields (if any) become kernel parameters: y = Apply(x).</summary>
public interface IFloatMap
{
    float Apply(float x);
}

/// <summary>A float map with its derivative, for the fused backward gradInput = gradOutput · f'(x).</summary>
public interface IFloatMapGradient : IFloatMap
{
    float Derivative(float x);
}

/// <summary>A float predicate of two operands (comparisons).</summary>
public interface IFloatPredicate
{
    static abstract bool Apply(float x, float y);
}

/// <summary>An element conversion between dtypes.</summary>
public interface IConversion<TIn, TOut> where TIn : unmanaged where TOut : unmanaged
{
    static abstract TOut Convert(TIn x);
}

/// <summary>Math the device library lacks in the form the CPU kernels define it.</summary>
public static class GpuMath
{
    /// <summary>
    /// x^y as MathF.Pow: a negative base with an integral exponent gives the signed power
    /// (DeviceMath.Pow alone gives NaN there); exponents 1, 2, 0.5 and -1 are exact.
    /// </summary>
    public static float Pow(float x, float y)
    {
        if (y == 2f)
            return x * x;
        if (y == 1f)
            return x;
        if (y == 0.5f && x >= 0f)
            return MathF.Sqrt(x);
        if (y == -1f)
            return 1f / x;
        if (x < 0f)
        {
            if (MathF.Floor(y) != y)
                return float.NaN;
            float magnitude = DeviceMath.Pow(-x, y);
            float half = y * 0.5f;
            return MathF.Floor(half) != half ? -magnitude : magnitude;
        }
        return DeviceMath.Pow(x, y);
    }

    public const float InvSqrt2 = 0.70710678118654752f;
    public const float InvSqrt2Pi = 0.39894228040143268f;
    public const float Sqrt2OverPi = 0.79788456080286536f;
    public const float TanhCoefficient = 0.044715f;
}

// ---- unary maps (forward; the Gradient ones also carry f'(x) for MapBackward) ----

public readonly struct NegateMap : IFloatMap { public float Apply(float x) => -x; }

public readonly struct AbsMap : IFloatMapGradient
{
    public float Apply(float x) => MathF.Abs(x);
    public float Derivative(float x) => x > 0f ? 1f : x < 0f ? -1f : 0f;
}

public readonly struct ExpMap : IFloatMap { public float Apply(float x) => MathF.Exp(x); }

public readonly struct LogMap : IFloatMapGradient
{
    public float Apply(float x) => MathF.Log(x);
    public float Derivative(float x) => 1f / x;
}

public readonly struct SqrtMap : IFloatMap { public float Apply(float x) => MathF.Sqrt(x); }

public readonly struct RsqrtMap : IFloatMap { public float Apply(float x) => 1f / MathF.Sqrt(x); }

public readonly struct TanhMap : IFloatMap { public float Apply(float x) => MathF.Tanh(x); }

public readonly struct SigmoidMap : IFloatMap { public float Apply(float x) => 1f / (1f + MathF.Exp(-x)); }

/// <summary>max(x, 0) with NaN kept (as the CPU's TensorPrimitives.Max).</summary>
public readonly struct ReluMap : IFloatMapGradient
{
    public float Apply(float x) => MathF.Max(x, 0f);
    public float Derivative(float x) => x > 0f ? 1f : 0f;
}

public readonly struct GeluErfMap : IFloatMapGradient
{
    public float Apply(float x) => 0.5f * x * (1f + DeviceMath.Erf(x * GpuMath.InvSqrt2));
    public float Derivative(float x) => 0.5f * (1f + DeviceMath.Erf(x * GpuMath.InvSqrt2)) + x * GpuMath.InvSqrt2Pi * MathF.Exp(-0.5f * x * x);
}

public readonly struct GeluTanhMap : IFloatMapGradient
{
    public float Apply(float x) => 0.5f * x * (1f + MathF.Tanh(GpuMath.Sqrt2OverPi * (x + GpuMath.TanhCoefficient * x * x * x)));

    public float Derivative(float x)
    {
        float t = MathF.Tanh(GpuMath.Sqrt2OverPi * (x + GpuMath.TanhCoefficient * x * x * x));
        return 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * GpuMath.Sqrt2OverPi * (1f + 3f * GpuMath.TanhCoefficient * x * x);
    }
}

public readonly struct SiluMap : IFloatMapGradient
{
    public float Apply(float x) => x / (1f + MathF.Exp(-x));

    public float Derivative(float x)
    {
        float s = 1f / (1f + MathF.Exp(-x));
        return s * (1f + x * (1f - s));
    }
}

public readonly struct SignMap : IFloatMap { public float Apply(float x) => x > 0f ? 1f : x < 0f ? -1f : 0f; }

/// <summary>min(max(x, Low), High), NaN kept.</summary>
public struct ClampMap : IFloatMap
{
    public float Low;
    public float High;

    public readonly float Apply(float x) => MathF.Min(MathF.Max(x, Low), High);
}

/// <summary>x^Exponent.</summary>
public struct PowScalarMap : IFloatMap
{
    public float Exponent;

    public readonly float Apply(float x) => GpuMath.Pow(x, Exponent);
}

/// <summary>op(x, Scalar): a binary op with a host scalar on the right.</summary>
public struct RightScalarMap<TOp> : IFloatMap where TOp : IBinaryOp<float>
{
    public float Scalar;

    public readonly float Apply(float x) => TOp.Apply(x, Scalar);
}

/// <summary>op(Scalar, x): a binary op with a host scalar on the left.</summary>
public struct LeftScalarMap<TOp> : IFloatMap where TOp : IBinaryOp<float>
{
    public float Scalar;

    public readonly float Apply(float x) => TOp.Apply(Scalar, x);
}

// ---- binary ops (broadcasting) ----

public readonly struct AddOp : IBinaryOp<float> { public static float Apply(float x, float y) => x + y; }

public readonly struct SubtractOp : IBinaryOp<float> { public static float Apply(float x, float y) => x - y; }

public readonly struct MultiplyOp : IBinaryOp<float> { public static float Apply(float x, float y) => x * y; }

public readonly struct DivideOp : IBinaryOp<float> { public static float Apply(float x, float y) => x / y; }

/// <summary>NaN-propagating maximum (PyTorch's maximum).</summary>
public readonly struct MaximumOp : IBinaryOp<float> { public static float Apply(float x, float y) => MathF.Max(x, y); }

public readonly struct MinimumOp : IBinaryOp<float> { public static float Apply(float x, float y) => MathF.Min(x, y); }

public readonly struct PowOp : IBinaryOp<float> { public static float Apply(float x, float y) => GpuMath.Pow(x, y); }

// ---- comparisons ----

public readonly struct EqualPredicate : IFloatPredicate { public static bool Apply(float x, float y) => x == y; }

public readonly struct NotEqualPredicate : IFloatPredicate { public static bool Apply(float x, float y) => x != y; }

public readonly struct LessPredicate : IFloatPredicate { public static bool Apply(float x, float y) => x < y; }

public readonly struct LessEqualPredicate : IFloatPredicate { public static bool Apply(float x, float y) => x <= y; }

public readonly struct GreaterPredicate : IFloatPredicate { public static bool Apply(float x, float y) => x > y; }

public readonly struct GreaterEqualPredicate : IFloatPredicate { public static bool Apply(float x, float y) => x >= y; }

// ---- dtype conversions (C# semantics: float → int64 truncates toward zero) ----

public readonly struct BoolToFloat : IConversion<bool, float> { public static float Convert(bool x) => x ? 1f : 0f; }

public readonly struct IntToFloat : IConversion<int, float> { public static float Convert(int x) => x; }

public readonly struct LongToFloat : IConversion<long, float> { public static float Convert(long x) => x; }

public readonly struct BoolToLong : IConversion<bool, long> { public static long Convert(bool x) => x ? 1L : 0L; }

public readonly struct IntToLong : IConversion<int, long> { public static long Convert(int x) => x; }

public readonly struct FloatToLong : IConversion<float, long> { public static long Convert(float x) => (long)x; }
