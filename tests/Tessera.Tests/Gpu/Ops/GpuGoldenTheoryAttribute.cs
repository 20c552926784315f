using Tessera.Autograd;
using Tessera.Engine;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>
/// A theory over goldens on cuda-emu. GoldenRunner itself multiplies each output by its output
/// gradient and sums (Functional.Mul and Sum) on the device; until those ops dispatch to the GPU
/// (the elementwise family) the theory skips and says so. The same ops are compared GPU-vs-CPU
/// without the runner in *GpuOpTests.
/// </summary>
public sealed class GpuGoldenTheoryAttribute : TheoryAttribute
{
    private static readonly Lazy<string?> s_missing = new(() =>
    {
        try
        {
            using var a = Tensor.FromArray([1f, 2f], 2).To(Device.Parse("cuda-emu"));
            using var total = Functional.Sum(a * a);
            return total.Item() == 5f ? null : $"Sum(a * a) on cuda-emu gave {total.Item()}, expected 5";
        }
        catch (TensorDeviceException e)
        {
            return $"GoldenRunner on cuda-emu needs Mul and Sum on the GPU, which this build does not dispatch yet ({e.Message})";
        }
    });

    public GpuGoldenTheoryAttribute()
    {
        if (s_missing.Value is string reason)
            Skip = reason;
    }
}
