using System.Runtime.InteropServices;
using Tessera.Engine.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>Comparisons with explicit tolerances and host views for running kernels as plain C#.</summary>
internal static class GpuTestSupport
{
    /// <summary>|actual - expected| &lt;= atol + rtol * |expected| everywhere; the failure names the worst element.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float atol, float rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            bool ok = diff <= atol + rtol * Math.Abs(expected[i]) || (float.IsNaN(expected[i]) && float.IsNaN(actual[i]));
            if (!ok || double.IsNaN(diff))
            {
                if (at < 0 || diff > worst || double.IsNaN(diff))
                {
                    worst = diff;
                    at = i;
                }
            }
        }
        Assert.True(at < 0, at < 0 ? "" : $"{what}: element {at} is {actual[at]}, expected {expected[at]} (|diff| = {worst}, atol {atol}, rtol {rtol})");
    }

    /// <summary>Pins <paramref name="data"/> and gives a DeviceSpan over it for CpuGrid runs.</summary>
    public static unsafe DeviceSpan<T> Pin<T>(T[] data, List<GCHandle> pins) where T : unmanaged
    {
        GCHandle handle = GCHandle.Alloc(data, GCHandleType.Pinned);
        pins.Add(handle);
        return new DeviceSpan<T>((T*)handle.AddrOfPinnedObject(), data.Length);
    }

    public static void Unpin(List<GCHandle> pins)
    {
        foreach (GCHandle h in pins)
            h.Free();
        pins.Clear();
    }

    public static float[] RandomFloats(int count, int seed, float low = -1f, float high = 1f)
    {
        var random = new Random(seed);
        var data = new float[count];
        for (int i = 0; i < count; i++)
            data[i] = low + (float)random.NextDouble() * (high - low);
        return data;
    }
}
