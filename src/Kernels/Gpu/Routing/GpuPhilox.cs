namespace Tessera.Kernels.Gpu;

/// <summary>
/// Philox4x32-10 in the kernel subset: the same rounds, keys and counter layout as
/// Tessera.Engine.Random.Philox (key = seed, counter = (block low, block high, 0, 0)), so a
/// kernel drawing block b of seed s gets the very bits the CPU's Generator gets. 32-bit products
/// are split into high and low halves (ptxas turns them into mul.hi/mul.lo.u32).
/// </summary>
public static class GpuPhilox
{
    private const uint M0 = 0xD2511F53;
    private const uint M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9;
    private const uint W1 = 0xBB67AE85;

    /// <summary>The four 32-bit outputs of (seed, block index).</summary>
    public static void Block(ulong seed, ulong block, out uint x0, out uint x1, out uint x2, out uint x3)
    {
        uint c0 = (uint)block, c1 = (uint)(block >> 32), c2 = 0, c3 = 0;
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        x0 = c0;
        x1 = c1;
        x2 = c2;
        x3 = c3;
    }

    /// <summary>Uniform in [0, 1) from the top 24 bits (Philox.ToUniform).</summary>
    public static float ToUniform(uint bits) => (bits >> 8) * (1.0f / 16777216.0f);

    /// <summary>
    /// Gumbel noise -log(-log(u)) with u = (bits >> 8 + 0.5) / 2^24, in double precision like the
    /// CPU kernel (Kernels.Cpu.Gumbel), with <see cref="Log"/> standing in for Math.Log.
    /// </summary>
    public static float GumbelFromBits(uint bits)
    {
        double u = ((bits >> 8) + 0.5) * (1.0 / 16777216.0);
        return (float)-Log(-Log(u));
    }

    private const double Ln2High = 6.93147180369123816490e-01;
    private const double Ln2Low = 1.90821492927058770002e-10;
    private const double Lg1 = 6.666666666666735130e-01;
    private const double Lg2 = 3.999999999940941908e-01;
    private const double Lg3 = 2.857142874366239149e-01;
    private const double Lg4 = 2.222219843214978396e-01;
    private const double Lg5 = 1.818357216161805012e-01;
    private const double Lg6 = 1.531383769920937332e-01;
    private const double Lg7 = 1.479819860511658591e-01;

    /// <summary>
    /// Natural logarithm in double precision for positive normal x (fdlibm's e_log.c: x = 2^k·m
    /// with m in [√½, √2), log m = f - f²/2 + s·(f²/2 + R(s²)) with s = f / (2 + f); error below
    /// 1 ulp). Double transcendental functions are not in the kernel subset, so this is written
    /// out with adds, multiplies and one divide, which are IEEE-exact on the GPU and the emulator.
    /// </summary>
    public static double Log(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int k = (int)(bits >> 52) - 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            k++;
        }
        double f = m - 1.0;
        double halfSquare = 0.5 * f * f;
        double s = f / (2.0 + f);
        double z = s * s;
        double w = z * z;
        double odd = w * (Lg2 + w * (Lg4 + w * Lg6));
        double even = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
        double r = even + odd;
        double dk = k;
        return dk * Ln2High - ((halfSquare - (s * (halfSquare + r) + dk * Ln2Low)) - f);
    }
}
