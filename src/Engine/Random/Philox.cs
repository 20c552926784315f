using System.Runtime.CompilerServices;

namespace Tessera.Engine.Random;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"): a counter-based
/// generator, so value i of a draw depends only on (seed, counter of i), never on which thread
/// or device computes it. This is the definition the CPU and GPU kernels share:
/// key = (seed low, seed high); counter = (block low, block high, 0, 0); one block gives four u32.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53;
    private const uint M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9;
    private const uint W1 = 0xBB67AE85;

    /// <summary>The block for (seed, block index): the layout every Tessera RNG kernel uses.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(ulong seed, ulong block) =>
        Block((uint)block, (uint)(block >> 32), 0, 0, (uint)seed, (uint)(seed >> 32));

    /// <summary>Philox4x32-10 of a full 128-bit counter and 64-bit key (checked against the Random123 known answers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUniform(uint bits) => (bits >> 8) * (1.0f / 16777216.0f);

    /// <summary>Uniform in (0, 1]: safe to take the logarithm of.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUniformOpenZero(uint bits) => ((bits >> 8) + 1) * (1.0f / 16777216.0f);
}
