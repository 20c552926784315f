using Tessera.Autograd;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Conv2d, ConvTranspose2d, pooling and Interpolate against tools/goldens/gen_conv.py.</summary>
public sealed class ConvGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("conv");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("conv", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden));
    }

    /// <summary>The same cases on the emulated GPU (implicit-GEMM conv, pooling and resize kernels).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void OnEmulatedGpu(string name)
    {
        var golden = GoldenFile.Get("conv", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden), null, Tessera.Engine.Device.Parse("cuda-emu"));
    }

    /// <summary>The same cases on a real GPU (skipped with the reason when there is none).</summary>
    [Tessera.Tests.Gpu.CudaTheory]
    [MemberData(nameof(Cases))]
    public void OnCuda(string name)
    {
        var golden = GoldenFile.Get("conv", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden), null, Tessera.Engine.Device.Parse("cuda"));
    }

    private static Tolerance ToleranceFor(GoldenCase golden) => golden.Op switch
    {
        // Sums of up to a few hundred products in a different order than PyTorch's.
        "conv2d" or "conv_transpose2d" => Tolerance.Loose,
        "max_pool2d" or "max_pool2d_indices" => Tolerance.Tight,
        _ => Tolerance.Default,
    };

    private static Tensor[] Run(GoldenCase c, IReadOnlyDictionary<string, Tensor> t)
    {
        (int, int) Pair(string key)
        {
            int[] values = c.Ints(key);
            return (values[0], values[1]);
        }
        Tensor In(string key) => t[key];
        Tensor? Bias() => t.GetValueOrDefault("b");
        return c.Op switch
        {
            "conv2d" => [F.Conv2d(In("x"), In("w"), Bias(), Pair("stride"), Pair("padding"), Pair("dilation"), c.Int("groups"))],
            "conv_transpose2d" => [F.ConvTranspose2d(In("x"), In("w"), Bias(), Pair("stride"), Pair("padding"), Pair("output_padding"), c.Int("groups"), Pair("dilation"))],
            "max_pool2d" => [F.MaxPool2d(In("x"), Pair("kernel"), Pair("stride"), Pair("padding"), Pair("dilation"), c.Bool("ceil_mode"))],
            "max_pool2d_indices" => Both(F.MaxPool2dWithIndices(In("x"), Pair("kernel"), Pair("stride"), Pair("padding"), Pair("dilation"), c.Bool("ceil_mode"))),
            "avg_pool2d" => [F.AvgPool2d(In("x"), Pair("kernel"), Pair("stride"), Pair("padding"), c.Bool("ceil_mode"), c.Bool("count_include_pad"))],
            "adaptive_avg_pool2d" => [F.AdaptiveAvgPool2d(In("x"), Pair("output_size"))],
            "global_avg_pool2d" => [F.GlobalAvgPool2d(In("x"))],
            "interpolate" => [Interpolate(c, In("x"))],
            _ => throw new InvalidOperationException($"conv golden op '{c.Op}' has no runner"),
        };
    }

    private static Tensor Interpolate(GoldenCase c, Tensor x)
    {
        (int, int)? size = c.HasArg("size") ? (c.Ints("size")[0], c.Ints("size")[1]) : null;
        (double, double)? scale = null;
        if (c.HasArg("scale_factor"))
        {
            var values = c.Args.GetProperty("scale_factor").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            scale = (values[0], values[1]);
        }
        var mode = c.String("mode") == "bilinear" ? InterpolationMode.Bilinear : InterpolationMode.Nearest;
        bool? alignCorners = c.HasArg("align_corners") ? c.Bool("align_corners") : null;
        return F.Interpolate(x, size, scale, mode, alignCorners);
    }

    private static Tensor[] Both((Tensor Values, Tensor Indices) result) => [result.Values, result.Indices];
}
