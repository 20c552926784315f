using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Elementwise, comparison, reduction, matmul and view ops against tools/goldens/gen_core.py.</summary>
public sealed class CoreGoldenTests
{
    public static TheoryData<string> Cases => GoldenFile.CaseNames("core");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var golden = GoldenFile.Get("core", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden.Op));
    }

    /// <summary>The same cases on cuda-emu, except matmul/bmm/linear: the GEMM kernels' own golden theory covers those.</summary>
    public static TheoryData<string> GpuCases => Gpu.Ops.GpuGoldenCases.Where("core", op => op is not ("matmul" or "bmm" or "linear"));

    [Theory]
    [MemberData(nameof(GpuCases))]
    public void OnEmulatedGpu(string name)
    {
        var golden = GoldenFile.Get("core", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden.Op), null, Device.Parse("cuda-emu"));
    }

    /// <summary>The same cases on a real GPU (skipped with the reason when there is none).</summary>
    [Tessera.Tests.Gpu.CudaTheory]
    [MemberData(nameof(GpuCases))]
    public void OnCuda(string name)
    {
        var golden = GoldenFile.Get("core", name);
        GoldenRunner.Run(golden, Run, ToleranceFor(golden.Op), null, Device.Parse("cuda"));
    }

    private static Tolerance ToleranceFor(string op) => op switch
    {
        "matmul" or "bmm" or "linear" or "var" or "std" or "logsumexp" or "pow" or "pow_scalar" => Tolerance.Loose,
        "gelu" or "gelu_tanh" or "silu" => new Tolerance(1e-5f, 1e-4f),
        _ => Tolerance.Default,
    };

    private static Tensor[] Run(GoldenCase c, IReadOnlyDictionary<string, Tensor> t)
    {
        Tensor In(string key) => t[key];
        int[]? Dims() => c.HasArg("dims") ? c.Ints("dims") : null;
        float? OptionalFloat(string key) => c.HasArg(key) ? c.Float(key) : null;
        return c.Op switch
        {
            "add" => [In("a") + In("b")],
            "sub" => [In("a") - In("b")],
            "mul" => [In("a") * In("b")],
            "div" => [In("a") / In("b")],
            "maximum" => [F.Maximum(In("a"), In("b"))],
            "minimum" => [F.Minimum(In("a"), In("b"))],
            "pow" => [F.Pow(In("a"), In("b"))],
            "pow_scalar" => [F.Pow(In("x"), c.Float("exponent"))],
            "add_scalar" => [In("x") + c.Float("value")],
            "rsub_scalar" => [c.Float("value") - In("x")],
            "rdiv_scalar" => [c.Float("value") / In("x")],
            "neg" => [-In("x")],
            "abs" => [F.Abs(In("x"))],
            "exp" => [F.Exp(In("x"))],
            "log" => [F.Log(In("x"))],
            "sqrt" => [F.Sqrt(In("x"))],
            "rsqrt" => [F.Rsqrt(In("x"))],
            "tanh" => [F.Tanh(In("x"))],
            "sigmoid" => [F.Sigmoid(In("x"))],
            "relu" => [F.Relu(In("x"))],
            "gelu" => [F.Gelu(In("x"))],
            "gelu_tanh" => [F.Gelu(In("x"), approximateTanh: true)],
            "silu" => [F.Silu(In("x"))],
            "clamp" => [F.Clamp(In("x"), OptionalFloat("min"), OptionalFloat("max"))],
            "eq" => [F.Equal(In("a"), In("b"))],
            "ne" => [F.NotEqual(In("a"), In("b"))],
            "lt" => [F.Less(In("a"), In("b"))],
            "le" => [F.LessEqual(In("a"), In("b"))],
            "gt" => [F.Greater(In("a"), In("b"))],
            "ge" => [F.GreaterEqual(In("a"), In("b"))],
            "where" => [F.Where(In("cond"), In("a"), In("b"))],
            "masked_fill" => [F.MaskedFill(In("x"), In("mask"), c.Float("value"))],
            "sum" => [F.Sum(In("x"), Dims(), c.Bool("keepdim"))],
            "mean" => [F.Mean(In("x"), Dims(), c.Bool("keepdim"))],
            "var" => [F.Var(In("x"), Dims(), c.Int("correction"), c.Bool("keepdim"))],
            "std" => [F.Std(In("x"), Dims(), c.Int("correction"), c.Bool("keepdim"))],
            "logsumexp" => [F.LogSumExp(In("x"), Dims()!, c.Bool("keepdim"))],
            "max_dim" => Pair(F.Max(In("x"), c.Int("dim"), c.Bool("keepdim"))),
            "min_dim" => Pair(F.Min(In("x"), c.Int("dim"), c.Bool("keepdim"))),
            "argmax" => [F.Argmax(In("x"), c.HasArg("dim") ? c.Int("dim") : null, c.Bool("keepdim"))],
            "max_all" => [F.Max(In("x"))],
            "min_all" => [F.Min(In("x"))],
            "matmul" => [F.Matmul(In("a"), In("b"))],
            "bmm" => [F.Bmm(In("a"), In("b"))],
            "linear" => [F.Linear(In("x"), In("w"), t.GetValueOrDefault("b"))],
            "reshape" => [In("x").Reshape(c.Ints("shape"))],
            "permute" => [In("x").Permute(c.Ints("dims"))],
            "transpose" => [In("x").Transpose(c.Int("dim0"), c.Int("dim1"))],
            "narrow" => [In("x").Narrow(c.Int("dim"), c.Int("start"), c.Int("length"))],
            "slice" => [In("x").Slice(c.Int("dim"), c.Int("start"), c.Int("end"), c.Int("step"))],
            "select" => [In("x").Select(c.Int("dim"), c.Int("index"))],
            "expand" => [In("x").Expand(c.Ints("shape"))],
            "squeeze" => [In("x").Squeeze(c.HasArg("dim") ? c.Int("dim") : null)],
            "unsqueeze" => [In("x").Unsqueeze(c.Int("dim"))],
            "flatten" => [In("x").Flatten(c.Int("start"), c.Int("end"))],
            "contiguous" => [In("x").Contiguous() * 1f],
            _ => throw new InvalidOperationException($"core golden op '{c.Op}' has no runner"),
        };
    }

    private static Tensor[] Pair((Tensor Values, Tensor Indices) result) => [result.Values, result.Indices];
}
