using Tessera.Engine.Threading;

namespace Tessera.Engine.Random;

/// <summary>
/// A seeded stream of random numbers built on <see cref="Philox"/>. The state is just
/// (seed, offset): each draw of n values consumes ceil(n / 4) counter blocks starting at the
/// offset, element i coming from block offset + i / 4, lane i % 4. Saving and restoring
/// (seed, offset) resumes the stream exactly (checkpoints rely on it).
/// </summary>
public sealed class Generator
{
    public Generator(ulong seed) => Seed = seed;

    /// <summary>The process-wide default stream (seed 0 until <see cref="ManualSeed"/>).</summary>
    public static Generator Default { get; } = new(0);

    public ulong Seed { get; private set; }

    /// <summary>Counter blocks consumed so far.</summary>
    public ulong Offset { get; private set; }

    public void ManualSeed(ulong seed)
    {
        Seed = seed;
        Offset = 0;
    }

    public (ulong Seed, ulong Offset) GetState() => (Seed, Offset);

    public void SetState(ulong seed, ulong offset)
    {
        Seed = seed;
        Offset = offset;
    }

    /// <summary>Reserves the counter blocks for a draw of <paramref name="count"/> values and returns the first block.</summary>
    public ulong Reserve(long count)
    {
        ulong first = Offset;
        Offset += (ulong)((count + 3) / 4);
        return first;
    }

    /// <summary>Fills <paramref name="destination"/> with uniform values in [low, high).</summary>
    public void Uniform(Span<float> destination, float low = 0f, float high = 1f)
    {
        ulong seed = Seed, first = Reserve(destination.Length);
        float scale = high - low;
        unsafe
        {
            fixed (float* start = destination)
            {
                float* p = start;
                int length = destination.Length;
                CpuParallel.ForCost((length + 3) / 4, 40, (from, to) =>
                {
                    for (int b = from; b < to; b++)
                    {
                        var (x0, x1, x2, x3) = Philox.Block(seed, first + (ulong)b);
                        int i = b * 4;
                        p[i] = low + scale * Philox.ToUniform(x0);
                        if (i + 1 < length) p[i + 1] = low + scale * Philox.ToUniform(x1);
                        if (i + 2 < length) p[i + 2] = low + scale * Philox.ToUniform(x2);
                        if (i + 3 < length) p[i + 3] = low + scale * Philox.ToUniform(x3);
                    }
                });
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/> with normal values (Box-Muller on lane pairs).</summary>
    public void Normal(Span<float> destination, float mean = 0f, float std = 1f)
    {
        ulong seed = Seed, first = Reserve(destination.Length);
        unsafe
        {
            fixed (float* start = destination)
            {
                float* p = start;
                int length = destination.Length;
                CpuParallel.ForCost((length + 3) / 4, 80, (from, to) =>
                {
                    for (int b = from; b < to; b++)
                    {
                        var (x0, x1, x2, x3) = Philox.Block(seed, first + (ulong)b);
                        var (z0, z1) = BoxMuller(x0, x1);
                        var (z2, z3) = BoxMuller(x2, x3);
                        int i = b * 4;
                        p[i] = mean + std * z0;
                        if (i + 1 < length) p[i + 1] = mean + std * z1;
                        if (i + 2 < length) p[i + 2] = mean + std * z2;
                        if (i + 3 < length) p[i + 3] = mean + std * z3;
                    }
                });
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/> with raw 32-bit values (for Bernoulli masks, Gumbel noise...).</summary>
    public void Bits(Span<uint> destination)
    {
        ulong seed = Seed, first = Reserve(destination.Length);
        for (int b = 0; b < (destination.Length + 3) / 4; b++)
        {
            var (x0, x1, x2, x3) = Philox.Block(seed, first + (ulong)b);
            int i = b * 4;
            destination[i] = x0;
            if (i + 1 < destination.Length) destination[i + 1] = x1;
            if (i + 2 < destination.Length) destination[i + 2] = x2;
            if (i + 3 < destination.Length) destination[i + 3] = x3;
        }
    }

    /// <summary>A uniform integer in [0, bound).</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        var (x0, x1, _, _) = Philox.Block(Seed, Reserve(4));
        ulong wide = ((ulong)x0 << 32) | x1;
        return (int)(wide % (ulong)bound);
    }

    private static (float, float) BoxMuller(uint a, uint b)
    {
        float u1 = Philox.ToUniformOpenZero(a);
        float u2 = Philox.ToUniform(b);
        float radius = MathF.Sqrt(-2f * MathF.Log(u1));
        float angle = 2f * MathF.PI * u2;
        return (radius * MathF.Cos(angle), radius * MathF.Sin(angle));
    }
}
