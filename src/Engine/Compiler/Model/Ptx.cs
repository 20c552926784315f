namespace Tessera.Engine.Gpu;

/// <summary>
/// Single PTX instructions exposed to kernels. The CPU bodies compute the exact function; the
/// GPU's approximate instructions differ by the bounds given per method (PTX ISA, sm_80).
/// </summary>
public static class Ptx
{
    /// <summary>ex2.approx.f32: 2^x, within about 2 ulp (relative 2.4e-7) over the full range per the PTX ISA.</summary>
    public static float Ex2(float x) => MathF.Pow(2f, x);

    /// <summary>lg2.approx.f32: log2(x), absolute error about 2^-22 on (0.5, 2), relative about 2^-22 elsewhere.</summary>
    public static float Lg2(float x) => MathF.Log2(x);

    /// <summary>rsqrt.approx.f32: 1/sqrt(x), max relative error 2^-22.9.</summary>
    public static float Rsqrt(float x) => 1f / MathF.Sqrt(x);

    /// <summary>sin.approx.f32: max absolute error 2^-20.9 on [-pi, pi].</summary>
    public static float Sin(float x) => MathF.Sin(x);

    /// <summary>cos.approx.f32: max absolute error 2^-20.9 on [-pi, pi].</summary>
    public static float Cos(float x) => MathF.Cos(x);

    /// <summary>fma.rn.f32: x * y + z rounded once.</summary>
    public static float Fma(float x, float y, float z) => MathF.FusedMultiplyAdd(x, y, z);
}

/// <summary>
/// The device implementations of System.MathF functions, written in the kernel subset. The
/// compiler substitutes them for MathF calls; run on the CPU they use the exact Ptx fallbacks,
/// so the accuracies below describe the algorithm plus the hardware approximation noted in <see cref="Ptx"/>.
/// </summary>
public static class DeviceMath
{
    private const float Log2E = 1.44269504f;
    private const float Log2ELow = 1.92596299e-8f;
    private const float Ln2 = 0.693147181f;
    private const float TwoPiHigh = 6.28318548f;
    private const float TwoPiLow = -1.74845553e-7f;
    private const float InvTwoPi = 0.159154943f;

    /// <summary>e^x: relative error ≤ 1e-6 for |x| ≤ 87 (x*log2(e) carried in two parts by an fma); exact at ±inf.</summary>
    public static float Exp(float x)
    {
        // The correction term is inf - inf = NaN at ±inf: exp(-inf) = 0 (masked softmax rows) and exp(inf) = inf.
        if (float.IsInfinity(x))
            return x > 0f ? x : 0f;
        float t = x * Log2E;
        float correction = Ptx.Fma(x, Log2E, -t) + x * Log2ELow;
        return Ptx.Ex2(t) * (1f + correction * Ln2);
    }

    /// <summary>ln x: absolute error ≤ 2e-7 near 1, relative error ≤ 1e-6 elsewhere; NaN for x &lt; 0, -inf at 0.</summary>
    public static float Log(float x) => Ptx.Lg2(x) * Ln2;

    /// <summary>tanh x: absolute error ≤ 3e-7 (odd polynomial below 0.3, 1 - 2/(e^2x + 1) above).</summary>
    public static float Tanh(float x)
    {
        float a = MathF.Abs(x);
        if (a < 0.3f)
        {
            // Taylor series to x^9; the x^11 term is below 2e-8 here.
            float x2 = x * x;
            float q = Ptx.Fma(x2, 0.0218694885f, -0.0539682540f);
            q = Ptx.Fma(x2, q, 0.133333340f);
            q = Ptx.Fma(x2, q, -0.333333343f);
            return Ptx.Fma(x * x2, q, x);
        }
        float r = 1f - 2f / (Exp(2f * a) + 1f);
        return x < 0f ? -r : r;
    }

    /// <summary>erf x: absolute error ≤ 5e-7 (Abramowitz–Stegun 7.1.26, error 1.5e-7, plus f32 rounding).</summary>
    public static float Erf(float x)
    {
        float a = MathF.Abs(x);
        float t = 1f / Ptx.Fma(0.3275911f, a, 1f);
        float p = Ptx.Fma(t, 1.061405429f, -1.453152027f);
        p = Ptx.Fma(t, p, 1.421413741f);
        p = Ptx.Fma(t, p, -0.284496736f);
        p = Ptx.Fma(t, p, 0.254829592f);
        float r = 1f - p * t * Exp(-a * a);
        return x < 0f ? -r : r;
    }

    /// <summary>x^y for x &gt; 0 as 2^(y log2 x): relative error ≤ 2e-6·max(1, |y log2 x|); 0^y = 0 for y &gt; 0; NaN for x &lt; 0.</summary>
    public static float Pow(float x, float y)
    {
        if (x == 0f)
            return y > 0f ? 0f : y == 0f ? 1f : float.PositiveInfinity;
        if (y == 0f)
            return 1f;
        return Ptx.Ex2(y * Ptx.Lg2(x));
    }

    /// <summary>sin x: absolute error ≤ 2e-6 for |x| ≤ 1000 (reduction by 2π in two parts, then sin.approx).</summary>
    public static float Sin(float x) => Ptx.Sin(ReduceTwoPi(x));

    /// <summary>cos x: absolute error ≤ 2e-6 for |x| ≤ 1000.</summary>
    public static float Cos(float x) => Ptx.Cos(ReduceTwoPi(x));

    /// <summary>1/sqrt(x): relative error ≤ 2^-22.9 (rsqrt.approx).</summary>
    public static float ReciprocalSqrt(float x) => Ptx.Rsqrt(x);

    private static float ReduceTwoPi(float x)
    {
        float k = MathF.Round(x * InvTwoPi);
        return Ptx.Fma(-k, TwoPiLow, Ptx.Fma(-k, TwoPiHigh, x));
    }
}
