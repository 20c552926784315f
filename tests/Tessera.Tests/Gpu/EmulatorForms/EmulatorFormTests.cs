using System.Globalization;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Xunit;
using static Tessera.Tests.Gpu.EmulatorForms.FormReferences;

namespace Tessera.Tests.Gpu.EmulatorForms;

/// <summary>
/// Every instruction form the emulator accepts (<see cref="PtxForms.All"/>) runs on 32 lanes of
/// special and random operands and is compared with a C# reference (<see cref="FormReferences"/>
/// for register forms, hand-computed results for memory, barrier, warp and control forms). A form
/// without a case here fails the test, so the accepted set cannot grow without a check.
/// </summary>
public class EmulatorFormTests
{
    private const string Header = ".version 7.8\n.target sm_80\n.address_size 64\n";

    [Fact]
    public void EveryAcceptedFormMatchesItsReference()
    {
        using var driver = new PtxEmulatorDriver();
        var failures = new List<string>();
        var covered = new HashSet<string>(FormCases.Run(driver, failures));
        foreach (string form in PtxForms.All.Order(StringComparer.Ordinal))
        {
            if (covered.Contains(form))
                continue;
            Form f = Form.Parse(form);
            if (f.Op is "add" or "sub" or "mul" or "mad" or "fma" or "div" or "rem" or "min" or "max" or "and" or "or" or "xor" or "not"
                or "shl" or "shr" or "neg" or "abs" or "sqrt" or "rcp" or "rsqrt" or "ex2" or "lg2" or "sin" or "cos" or "tanh"
                or "copysign" or "setp" or "testp" or "selp" or "mov" or "cvt")
                RegisterForm(driver, f, failures);
            else
                failures.Add($"{form}: accepted by the emulator but no test case feeds it");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} failure(s):\n" + string.Join("\n", failures.Take(40)));
    }

    [Fact]
    public void EveryRegisteredKernelUsesOnlyAcceptedForms()
    {
        // The strict parser must not reject anything Tessera's own compiler writes.
        using var driver = new PtxEmulatorDriver();
        // sm_80 only: the instruction selection is the same for sm_90 (the compile cache is shared with the other GPU tests).
        foreach (Tessera.Engine.Compiler.KernelEntry entry in Tessera.Kernels.Gpu.GpuKernelTable.All)
            driver.UnloadModule(driver.LoadModule(entry.Compile(Tessera.Engine.Compiler.GpuTarget.Sm80).Ptx));
    }

    [Theory]
    [InlineData("add.rz.f64 %d, %a, %b", "add.rz.f64")]           // directed f64 rounding is not emulated
    [InlineData("ld.global.v4.f32 %d, [%a]", "ld.global.v4.f32")]  // vector loads
    [InlineData("fence.sc.cta", "fence.sc.cta")]
    [InlineData("mul.u32 %d, %a, %b", "mul.u32")]                   // no .lo/.hi/.wide
    [InlineData("add.s8 %d, %a, %b", "add.s8")]
    [InlineData("call foo, (%a)", "call")]
    public void RejectsFormsOutsideTheTableNamingInstructionLineAndKernel(string instruction, string opcode)
    {
        using var driver = new PtxEmulatorDriver();
        string ptx = Header + ".visible .entry probe(\n)\n{\n.reg .b64 %a;\n.reg .b64 %b;\n.reg .b64 %d;\n" + instruction + ";\nret;\n}\n";
        var error = Assert.Throws<PtxEmulatorException>(() => driver.LoadModule(ptx));
        Assert.Contains(opcode, error.Message, StringComparison.Ordinal);
        Assert.Contains("line 10", error.Message, StringComparison.Ordinal);
        Assert.Contains("probe", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsModuleLevelVariablesAndRunsOneLineFunctions()
    {
        using var driver = new PtxEmulatorDriver();
        var error = Assert.Throws<PtxEmulatorException>(() => driver.LoadModule(Header + ".global .align 4 .b8 table[16];\n.visible .entry k(\n)\n{\nret;\n}\n"));
        Assert.Contains(".global .align 4 .b8 table[16]", error.Message, StringComparison.Ordinal);
        driver.LoadModule(Header + ".func helper()\n{\nret;\n}\n.visible .entry k(\n)\n{\ncall.uni helper, ();\nret;\n}\n");
    }

    /// <summary>One register form on 32 lanes: operands a, b, c read as raw 64-bit values, the result stored as 64 bits.</summary>
    private static void RegisterForm(PtxEmulatorDriver driver, Form f, List<string> failures)
    {
        var rng = new Random(f.Text.GetHashCode(StringComparison.Ordinal));
        string t = f.Op == "cvt" ? f.Source : f.Dest;
        int sources = f.Op switch
        {
            "neg" or "not" or "abs" or "sqrt" or "rcp" or "rsqrt" or "ex2" or "lg2" or "sin" or "cos" or "tanh" or "testp" or "mov" or "cvt" => 1,
            "fma" or "mad" or "selp" => 3,
            _ => 2,
        };
        bool predicateOut = f.Op is "setp" or "testp" || f.Dest == "pred";
        var input = new ulong[32 * 4];
        for (int l = 0; l < 32; l++)
        {
            input[4 * l] = Operand(t, rng, l);
            input[4 * l + 1] = f.Op is "shl" or "shr" ? (ulong)rng.Next(0, Width(t) + 3) : Operand(t, rng, (l * 7 + 3) % 32);
            input[4 * l + 2] = f.Op == "selp" ? (ulong)(l & 1) : f.Has("wide") ? Operand(t[0] + (2 * Width(t)).ToString(CultureInfo.InvariantCulture), rng, l) : Operand(t, rng, (l * 13 + 5) % 32);
            if (f.Op == "selp")
                input[4 * l + 1] = Operand(t, rng, l + 1);
            if (f.Op is "div" or "rem" && !IsFloat(t) && (input[4 * l + 1] & WidthMask(t)) == 0)
                input[4 * l + 1] = 7; // integer division by zero is undefined in PTX (the emulator reports it)
        }
        string a = f.Dest == "pred" ? "%pa" : "%a", b = f.Dest == "pred" ? "%pb" : "%b", c = f.Op == "selp" ? "%pc" : "%c";
        string d = predicateOut ? "%pd" : "%d";
        string operands = sources switch { 1 => $"{d}, {a}", 2 => $"{d}, {a}, {b}", _ => $"{d}, {a}, {b}, {c}" };
        if (f.Op == "not" && f.Dest == "pred")
            operands = $"{d}, {a}";
        string body = $"{f.Text} {operands};\n" + (predicateOut ? "selp.b64 %d, 1, 0, %pd;\n" : "");
        ulong[] output;
        try
        {
            output = RunLanes(driver, body, input);
        }
        catch (Exception e) when (e is PtxEmulatorException or CudaException)
        {
            failures.Add($"{f.Text}: {e.Message}");
            return;
        }
        for (int l = 0; l < 32; l++)
        {
            ulong x = input[4 * l], y = input[4 * l + 1], z = input[4 * l + 2];
            if (f.Dest == "pred")
                (x, y) = (x & 1, y & 1);
            (ulong Bits, double Ulps)? expected = Expected(f, x, y, z);
            if (expected is null)
                continue;
            int width = predicateOut ? 1 : Width(f.Op == "mul" || f.Op == "mad" ? (f.Has("wide") ? t[0] + (2 * Width(t)).ToString(CultureInfo.InvariantCulture) : t) : f.Dest);
            ulong mask = width == 64 ? ulong.MaxValue : (1UL << width) - 1;
            ulong got = output[l] & mask, want = expected.Value.Bits & mask;
            if (!Matches(f, got, want, expected.Value.Ulps, predicateOut ? "pred" : f.Dest))
            {
                failures.Add($"{f.Text} lane {l}: a=0x{x:x} b=0x{y:x} c=0x{z:x}: got 0x{got:x}, expected 0x{want:x}");
                return;
            }
        }
    }

    private static ulong WidthMask(string type) => Width(type) == 64 ? ulong.MaxValue : (1UL << Width(type)) - 1;

    private static bool Matches(Form f, ulong got, ulong want, double ulps, string type)
    {
        if (got == want)
            return true;
        if (type is "f16" or "f32" or "f64" && f.Op != "cvt" || (f.Op == "cvt" && IsFloat(type)))
        {
            double g = Float(got, type), w = Float(want, type);
            if (double.IsNaN(g) && double.IsNaN(w))
                return true;
            if (ulps > 0 && double.IsFinite(g) && double.IsFinite(w))
            {
                double ulp = type == "f32" ? MathF.BitIncrement(MathF.Abs((float)w)) - MathF.Abs((float)w) : Math.BitIncrement(Math.Abs(w)) - Math.Abs(w);
                return Math.Abs(g - w) <= ulps * ulp;
            }
        }
        return false;
    }

    /// <summary>Special values first (zeros, ones, extremes, subnormals, infinities, NaN, halfway cases), then random ones.</summary>
    private static ulong Operand(string type, Random rng, int lane)
    {
        if (type == "pred")
            return (ulong)(lane & 1);
        int w = Width(type);
        if (IsFloat(type))
        {
            double[] specials = [0.0, -0.0, 1, -1, 0.5, 2.5, -3.5, 1e-40, -1e-42, 6e-5, 3e38, -3e38, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 1.0 / 3, 65504, 7e-8];
            if (lane < specials.Length)
                return FloatBits(type == "f16" && Math.Abs(specials[lane]) is > 65504 and < double.PositiveInfinity ? 60000 : specials[lane], type);
            double magnitude = type == "f16" ? Math.Pow(2, rng.Next(-16, 10)) : Math.Pow(2, rng.Next(-30, 30));
            double v = (rng.NextDouble() * 2 - 1) * magnitude;
            return FloatBits(type == "f32" ? (float)v : v, type);
        }
        ulong mask = w == 64 ? ulong.MaxValue : (1UL << w) - 1;
        ulong[] specialInts = [0, 1, mask, mask >> 1, (mask >> 1) + 1, 2, 3, 7, 100];
        if (lane < specialInts.Length)
            return specialInts[lane];
        return (ulong)rng.NextInt64() & mask;
    }

    /// <summary>
    /// Runs <paramref name="body"/> on one warp: %a, %b, %c (.b64) hold each lane's inputs (with
    /// predicates %pa, %pb, %pc set when nonzero); %d is stored back.
    /// </summary>
    internal static ulong[] RunLanes(PtxEmulatorDriver driver, string body, ulong[] input, string declarations = "", string extraParams = "", byte[][]? extraArguments = null, string modulePrefix = "")
    {
        string ptx = Header + modulePrefix + ".visible .entry lanes(\n.param .u64 input,\n.param .u64 output" + extraParams + "\n)\n{\n" +
            ".reg .b64 %a;\n.reg .b64 %b;\n.reg .b64 %c;\n.reg .b64 %d;\n.reg .b64 %x<8>;\n.reg .pred %pa;\n.reg .pred %pb;\n.reg .pred %pc;\n.reg .pred %pd;\n" + declarations +
            "ld.param.u64 %x0, [input];\nld.param.u64 %x1, [output];\nmov.u32 %x2, %tid.x;\ncvt.u64.u32 %x2, %x2;\n" +
            "shl.b64 %x3, %x2, 5;\nadd.s64 %x4, %x0, %x3;\nld.global.u64 %a, [%x4];\nadd.s64 %x4, %x4, 8;\nld.global.u64 %b, [%x4];\nadd.s64 %x4, %x4, 8;\nld.global.u64 %c, [%x4];\n" +
            "setp.ne.u64 %pa, %a, 0;\nsetp.ne.u64 %pb, %b, 0;\nsetp.ne.u64 %pc, %c, 0;\nmov.b64 %d, 0;\n" +
            body +
            "shl.b64 %x3, %x2, 3;\nadd.s64 %x4, %x1, %x3;\nst.global.u64 [%x4], %d;\nret;\n}\n";
        Tessera.Engine.Cuda.ModuleHandle module = driver.LoadModule(ptx);
        Tessera.Engine.Cuda.FunctionHandle function = driver.GetFunction(module, "lanes");
        using var inputBuffer = DeviceBuffer<ulong>.From(driver, input);
        using var outputBuffer = DeviceBuffer<ulong>.Allocate(driver, 32);
        var arguments = new List<byte[]> { BitConverter.GetBytes(inputBuffer.Pointer.Address), BitConverter.GetBytes(outputBuffer.Pointer.Address) };
        arguments.AddRange(extraArguments ?? []);
        driver.Launch(function, new Dim3(1, 1, 1), new Dim3(32, 1, 1), 0, default, arguments);
        driver.UnloadModule(module);
        return outputBuffer.ToArray();
    }
}
