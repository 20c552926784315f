namespace Tessera.Models.Data.World;

/// <summary>
/// Sin, cos, exp and log from IEEE-754 basic operations only (range reduction plus polynomials in
/// double precision). MathF's versions call the platform's C library, whose last bit may differ
/// between machines; a one-ulp difference in a rotation can flip an edge pixel's label. The world
/// uses these so (source, split, index, seed) gives the same bytes on every machine. Accuracy is
/// about 1e-7 relative, plenty for geometry.
/// </summary>
public static class DeterministicMath
{
    private const double TwoPi = 6.283185307179586, HalfPi = 1.5707963267948966, Ln2 = 0.6931471805599453;

    public static float Sin(float x) => (float)SinDouble(x);

    public static float Cos(float x) => (float)SinDouble(x + HalfPi);

    public static float Exp(float x)
    {
        if (x > 88f) return float.PositiveInfinity;
        if (x < -103f) return 0f;
        double n = Math.Round(x / Ln2);
        double r = x - n * Ln2; // |r| <= ln2 / 2
        // Taylor to r^11: error below 1e-12 on |r| <= 0.35.
        double sum = 1, term = 1;
        for (int k = 1; k <= 11; k++)
        {
            term *= r / k;
            sum += term;
        }
        return (float)(sum * Math.ScaleB(1.0, (int)n));
    }

    public static float Log(float x)
    {
        if (x <= 0f) return x == 0f ? float.NegativeInfinity : float.NaN;
        if (float.IsPositiveInfinity(x)) return x;
        int bits = BitConverter.SingleToInt32Bits(x);
        int exponent = (bits >> 23) & 0xFF;
        if (exponent == 0) return Log(x * 8388608f) - 23f * (float)Ln2; // subnormal: scale by 2^23 first
        double mantissa = BitConverter.Int32BitsToSingle((bits & 0x007FFFFF) | 0x3F800000); // [1, 2)
        int e = exponent - 127;
        if (mantissa > 1.4142135623730951)
        {
            mantissa /= 2;
            e++;
        }
        // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172: the odd series to s^21 is exact to ~1e-17.
        double s = (mantissa - 1) / (mantissa + 1), s2 = s * s, power = s, series = 0;
        for (int k = 1; k <= 21; k += 2)
        {
            series += power / k;
            power *= s2;
        }
        return (float)(2 * series + e * Ln2);
    }

    private static double SinDouble(double x)
    {
        // Reduce to [-pi, pi], then to [-pi/2, pi/2] by sin(pi - x) = sin(x).
        x -= TwoPi * Math.Round(x / TwoPi);
        if (x > HalfPi) x = Math.PI - x;
        else if (x < -HalfPi) x = -Math.PI - x;
        double x2 = x * x, term = x, sum = x;
        for (int k = 1; k <= 9; k++)
        {
            term *= -x2 / ((2 * k) * (2 * k + 1));
            sum += term;
        }
        return sum;
    }
}
