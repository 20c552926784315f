using Tessera.Engine.Random;

namespace Tessera.Models.Data.World;

/// <summary>
/// Scalar draws for scene sampling on top of a <see cref="Generator"/>: one Philox block gives four
/// 32-bit values, buffered here so a scene's hundred-odd draws cost a few dozen blocks.
/// </summary>
public sealed class SceneRandom
{
    private readonly Generator _generator;
    private readonly uint[] _buffer = new uint[4];
    private int _position = 4;

    public SceneRandom(Generator generator) => _generator = generator;

    public SceneRandom(ulong seed) : this(new Generator(seed)) { }

    public uint NextBits()
    {
        if (_position == 4)
        {
            _generator.Bits(_buffer);
            _position = 0;
        }
        return _buffer[_position++];
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float NextFloat() => Philox.ToUniform(NextBits());

    public float Range(float low, float high) => low + (high - low) * NextFloat();

    /// <summary>Uniform integer in [0, bound).</summary>
    public int NextInt(int bound) => (int)(((ulong)NextBits() * (ulong)bound) >> 32);

    /// <summary>Uniform integer in [low, high] (inclusive).</summary>
    public int RangeInclusive(int low, int high) => low + NextInt(high - low + 1);

    public bool Chance(float probability) => NextFloat() < probability;

    public T Pick<T>(IReadOnlyList<T> items) => items[NextInt(items.Count)];

    /// <summary>A log-uniform draw, for scales and aspect ratios.</summary>
    public float LogRange(float low, float high) => DeterministicMath.Exp(Range(DeterministicMath.Log(low), DeterministicMath.Log(high)));
}

/// <summary>Stable keys: (source, split, index, seed) → a 64-bit Generator seed, identical on every machine.</summary>
public static class SceneKey
{
    public static ulong Hash(string source, string split, long index, ulong seed)
    {
        ulong h = 14695981039346656037UL; // FNV-1a over the names, then SplitMix64 over the numbers
        foreach (char c in source) h = (h ^ c) * 1099511628211UL;
        h = (h ^ '/') * 1099511628211UL;
        foreach (char c in split) h = (h ^ c) * 1099511628211UL;
        h = Mix(h ^ Mix((ulong)index + 0x9E3779B97F4A7C15UL));
        return Mix(h ^ Mix(seed + 0xD1B54A32D192ED03UL));
    }

    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
