using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu.Samples;

/// <summary>The smallest kernel: out[i] = a[i] + b[i].</summary>
public static class VectorAdd
{
    [Kernel]
    public static void Add(
        // [count]
        DeviceSpan<float> a,
        DeviceSpan<float> b,
        // [count]
        DeviceSpan<float> output)
    {
        if (Elementwise.Index(output.Length, out int i))
            output[i] = a[i] + b[i];
    }
}
