using System.Globalization;

namespace Tessera.Engine.Gpu;

/// <summary>
/// bfloat16: the top 16 bits of an IEEE f32 (8 exponent bits, 7 mantissa bits), the input type of
/// bf16 tensor-core instructions. The BCL has no such type, so this one is stored as its 16 bits.
/// Conversions from float round to nearest even (NaN stays NaN); to float they are exact. The
/// conversions are plain C# bit arithmetic, so kernels can use them too.
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    private readonly ushort _bits;

    private BFloat16(ushort bits) => _bits = bits;

    /// <summary>The 16 bits (sign, exponent, mantissa).</summary>
    public ushort Bits => _bits;

    public static BFloat16 FromBits(ushort bits) => new(bits);

    public static explicit operator BFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFFu) > 0x7F80_0000u)
            return new BFloat16((ushort)((bits >> 16) | 0x0040)); // quiet NaN, sign kept
        uint rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return new BFloat16((ushort)((bits + rounding) >> 16));
    }

    public static explicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value._bits << 16);

    public bool Equals(BFloat16 other) => _bits == other._bits;

    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    public override int GetHashCode() => _bits;

    public static bool operator ==(BFloat16 left, BFloat16 right) => left.Equals(right);

    public static bool operator !=(BFloat16 left, BFloat16 right) => !left.Equals(right);

    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);
}
