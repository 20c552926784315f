namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Every instruction form the emulator accepts, as its opcode text without operands
/// (<c>mul.wide.u32</c>, <c>add.rn.ftz.f32</c>, <c>ld.global.f32</c>), modifiers in the PTX ISA's
/// canonical order. The parser rejects any other form, naming the instruction, the line and the
/// kernel, so nothing the emulator does not execute exactly per the ISA can run silently wrong.
/// Forms the emulator deliberately leaves out (directed rounding of f64 arithmetic, f64 .ftz,
/// 8-bit arithmetic, vector loads, textures, .func calls ...) are rejected rather than guessed.
/// <c>EmulatorFormTests</c> feeds each of these forms and compares with a C# reference.
/// </summary>
internal static class PtxForms
{
    private static readonly string[] s_ints = ["s16", "u16", "s32", "u32", "s64", "u64"];
    private static readonly string[] s_intsWithBytes = ["s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64"];
    private static readonly string[] s_bits = ["b16", "b32", "b64"];
    private static readonly string[] s_memory = ["b8", "u8", "s8", "b16", "u16", "s16", "f16", "b32", "u32", "s32", "f32", "b64", "u64", "s64", "f64"];
    private static readonly string[] s_directed = ["", ".rn", ".rz", ".rm", ".rp"];
    private static readonly string[] s_integerRounding = [".rni", ".rzi", ".rmi", ".rpi"];
    private static readonly string[] s_floatCompare = ["eq", "ne", "lt", "le", "gt", "ge", "equ", "neu", "ltu", "leu", "gtu", "geu", "nan", "num"];
    private static readonly string[] s_intCompare = ["eq", "ne", "lt", "le", "gt", "ge"];
    private static readonly string[] s_unsignedCompare = ["lo", "ls", "hi", "hs"];

    /// <summary>The accepted forms.</summary>
    public static IReadOnlySet<string> All { get; } = Build();

    private static HashSet<string> Build()
    {
        var f = new HashSet<string>(StringComparer.Ordinal);
        void Add(string form) => f.Add(form);

        // Integer arithmetic (16, 32, 64 bits).
        foreach (string t in s_ints)
        {
            foreach (string op in new[] { "add", "sub", "div", "rem", "min", "max" })
                Add($"{op}.{t}");
            foreach (string half in new[] { "lo", "hi" })
            {
                Add($"mul.{half}.{t}");
                Add($"mad.{half}.{t}");
            }
            Add($"shr.{t}");
            if (t[0] == 's')
            {
                Add($"neg.{t}");
                Add($"abs.{t}");
            }
            if (t is not ("s64" or "u64"))
            {
                Add($"mul.wide.{t}");
                Add($"mad.wide.{t}");
            }
            foreach (string c in s_intCompare)
                Add($"setp.{c}.{t}");
            if (t[0] == 'u')
                foreach (string c in s_unsignedCompare)
                    Add($"setp.{c}.{t}");
        }
        foreach (string t in s_bits)
        {
            foreach (string op in new[] { "and", "or", "xor", "not", "shl", "shr" })
                Add($"{op}.{t}");
            Add($"setp.eq.{t}");
            Add($"setp.ne.{t}");
        }
        foreach (string op in new[] { "and", "or", "xor", "not", "mov" })
            Add($"{op}.pred");

        // Floating point: f32 with every rounding, .ftz and .sat; f16 and f64 round to nearest only.
        foreach (string op in new[] { "add", "sub", "mul", "fma" })
        {
            foreach (string rnd in s_directed)
            {
                if (op == "fma" && rnd == "")
                    continue; // fma requires a rounding modifier
                foreach (string ftz in new[] { "", ".ftz" })
                    foreach (string sat in new[] { "", ".sat" })
                    {
                        Add($"{op}{rnd}{ftz}{sat}.f32");
                        if (rnd is "" or ".rn")
                            Add($"{op}{rnd}{ftz}{sat}.f16");
                    }
                if (rnd is "" or ".rn")
                    Add($"{op}{rnd}.f64");
            }
        }
        foreach (string ftz in new[] { "", ".ftz" })
        {
            Add($"div.rn{ftz}.f32");
            Add($"div.approx{ftz}.f32");
            Add($"div.full{ftz}.f32");
            foreach (string op in new[] { "neg", "abs" })
            {
                Add($"{op}{ftz}.f32");
                Add($"{op}{ftz}.f16");
            }
            foreach (string op in new[] { "min", "max" })
                foreach (string nan in new[] { "", ".NaN" })
                {
                    Add($"{op}{ftz}{nan}.f32");
                    Add($"{op}{ftz}{nan}.f16");
                }
            Add($"sqrt.rn{ftz}.f32");
            Add($"sqrt.approx{ftz}.f32");
            Add($"rcp.rn{ftz}.f32");
            Add($"rcp.approx{ftz}.f32");
            foreach (string op in new[] { "rsqrt", "ex2", "lg2", "sin", "cos" })
                Add($"{op}.approx{ftz}.f32");
            foreach (string c in s_floatCompare)
            {
                Add($"setp.{c}{ftz}.f32");
                Add($"setp.{c}{ftz}.f16");
            }
        }
        foreach (string c in s_floatCompare)
            Add($"setp.{c}.f64");
        foreach (string op in new[] { "div.rn", "neg", "abs", "min", "max", "sqrt.rn", "rcp.rn", "rsqrt.approx", "copysign" })
            Add($"{op}.f64");
        Add("copysign.f32");
        Add("tanh.approx.f32");
        foreach (string test in new[] { "finite", "infinite", "number", "notanumber", "normal", "subnormal" })
        {
            Add($"testp.{test}.f32");
            Add($"testp.{test}.f64");
        }

        // Selects and moves.
        foreach (string t in new[] { "b16", "u16", "s16", "f16", "b32", "u32", "s32", "f32", "b64", "u64", "s64", "f64" })
        {
            Add($"selp.{t}");
            Add($"mov.{t}");
        }

        // Conversions.
        foreach (string to in s_intsWithBytes)
        {
            foreach (string from in s_intsWithBytes)
            {
                Add($"cvt.{to}.{from}");
                Add($"cvt.sat.{to}.{from}");
            }
            foreach (string from in new[] { "f16", "f32", "f64" })
                foreach (string rnd in s_integerRounding)
                    foreach (string ftz in from == "f32" ? new[] { "", ".ftz" } : [""])
                        foreach (string sat in new[] { "", ".sat" })
                            Add($"cvt{rnd}{ftz}{sat}.{to}.{from}");
            foreach (string into in new[] { "f16", "f32", "f64" })
                Add($"cvt.rn.{into}.{to}");
        }
        foreach (string ftz in new[] { "", ".ftz" })
            foreach (string sat in new[] { "", ".sat" })
            {
                Add($"cvt{ftz}{sat}.f64.f32");
                Add($"cvt.rn{ftz}{sat}.f32.f64");
                Add($"cvt{ftz}{sat}.f32.f16");
                Add($"cvt.rn{ftz}{sat}.f16.f32");
                Add($"cvt{ftz}{sat}.f32.f32");
                foreach (string rnd in s_integerRounding)
                    Add($"cvt{rnd}{ftz}{sat}.f32.f32");
            }
        foreach (string sat in new[] { "", ".sat" })
        {
            Add($"cvt{sat}.f64.f16");
            Add($"cvt.rn{sat}.f16.f64");
            Add($"cvt{sat}.f64.f64");
            foreach (string rnd in s_integerRounding)
                Add($"cvt{rnd}{sat}.f64.f64");
        }
        foreach (string space in new[] { "shared", "local", "global" })
        {
            Add($"cvta.{space}.u64");
            Add($"cvta.to.{space}.u64");
        }

        // Memory.
        foreach (string t in s_memory)
        {
            foreach (string space in new[] { "", ".global", ".shared", ".local" })
            {
                Add($"ld{space}.{t}");
                Add($"st{space}.{t}");
            }
            Add($"ld.param.{t}");
            Add($"st.param.{t}"); // call arguments (see PtxCalls)
        }
        foreach (string space in new[] { "", ".global", ".shared" })
        {
            foreach (string op in new[] { "atom", "red" })
            {
                foreach (string t in new[] { "u32", "s32", "u64", "f32", "f64" })
                    Add($"{op}{space}.add.{t}");
                foreach (string m in new[] { "min", "max" })
                    foreach (string t in new[] { "u32", "s32", "u64", "s64" })
                        Add($"{op}{space}.{m}.{t}");
                foreach (string m in new[] { "and", "or", "xor" })
                    foreach (string t in new[] { "b32", "b64" })
                        Add($"{op}{space}.{m}.{t}");
            }
            foreach (string m in new[] { "exch", "cas" })
                foreach (string t in new[] { "b32", "b64" })
                    Add($"atom{space}.{m}.{t}");
        }

        // Control, barriers, warp operations.
        foreach (string form in new[]
        {
            "bra", "bra.uni", "ret", "exit", "bar.sync", "bar.red.popc.u32", "bar.red.and.pred", "bar.red.or.pred",
            "bar.warp.sync", "membar.cta", "membar.gl", "membar.sys",
            "shfl.sync.bfly.b32", "shfl.sync.down.b32", "shfl.sync.up.b32", "shfl.sync.idx.b32",
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
        })
            Add(form);
        return f;
    }
}
