using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// exp for softmax rows, 16 lanes at a time in one pass: x ← exp(x - shift) and the row's sum.
/// exp(t) = 2^n · 2^f with n = round(t·log2 e) and f reduced by a two-part ln 2 (Cody–Waite);
/// 2^f on [-0.5, 0.5] by a degree-6 polynomial: relative error below 2e-7 for t ≥ -87, and exactly
/// 0 below (softmax arguments are ≤ 0, so overflow cannot occur).
/// </summary>
public static unsafe class FastExp
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2High = 0.693359375f;
    private const float Ln2Low = -2.12194440e-4f;
    private const float Underflow = -87.3f;

    /// <summary>row[i] = exp(row[i] - shift) in place; returns Σ row[i] (accumulated in double across vectors).</summary>
    public static double ExpShiftedSum(float* row, int length, float shift)
    {
        double sum = 0;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var shiftVector = Vector512.Create(shift);
            var total = Vector512<float>.Zero;
            for (; i <= length - 16; i += 16)
            {
                var e = Exp(Vector512.Load(row + i) - shiftVector);
                e.Store(row + i);
                total += e;
            }
            sum = Vector512.Sum(total);
        }
        for (; i < length; i++)
        {
            float e = MathF.Exp(row[i] - shift);
            row[i] = e;
            sum += e;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Exp(Vector512<float> t)
    {
        var underflow = Vector512.LessThan(t, Vector512.Create(Underflow));
        t = Vector512.Max(t, Vector512.Create(Underflow));
        var n = Vector512.Round(t * Log2E);
        var f = t - n * Ln2High - n * Ln2Low;
        // e^f for |f| <= ln2/2: Taylor terms to f^6 (error < 2e-7 relative)
        var p = Vector512.Create(1f / 720f);
        p = p * f + Vector512.Create(1f / 120f);
        p = p * f + Vector512.Create(1f / 24f);
        p = p * f + Vector512.Create(1f / 6f);
        p = p * f + Vector512.Create(0.5f);
        p = p * f + Vector512<float>.One;
        p = p * f + Vector512<float>.One;
        // 2^n through the exponent bits
        var scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        var result = p * scale.AsSingle();
        return Vector512.ConditionalSelect(underflow, Vector512<float>.Zero, result);
    }
}
