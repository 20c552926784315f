using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>Tolerance checks for the GPU op tests: equal infinities and NaN against NaN count as equal.</summary>
internal static class OpsAssert
{
    /// <summary>|actual - expected| &lt;= atol + rtol·|expected| everywhere; the failure names the worst element and the max abs diff.</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float atol, float rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int at = -1, failures = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i].Equals(actual[i]))
                continue;
            double diff = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(diff))
                diff = double.PositiveInfinity;
            if (diff <= atol + rtol * Math.Abs(expected[i]))
                continue;
            failures++;
            if (at < 0 || diff > worst)
            {
                worst = diff;
                at = i;
            }
        }
        Assert.True(at < 0, at < 0 ? "" : $"{what}: {failures}/{expected.Length} elements outside atol {atol} rtol {rtol}; worst element {at} is {actual[at]}, expected {expected[at]} (|diff| = {worst})");
    }

    /// <summary>Bit-for-bit equality; the failure names the first differing element and how many differ.</summary>
    public static void Identical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int first = -1, count = 0;
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                if (first < 0) first = i;
                count++;
            }
        Assert.True(first < 0, first < 0 ? "" : $"{what}: {count}/{expected.Length} elements differ in their bits; first at {first}: {actual[first]} instead of {expected[first]}");
    }
}
