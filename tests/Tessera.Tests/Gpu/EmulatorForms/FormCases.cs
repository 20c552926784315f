using System.Numerics;
using Tessera.Engine.Cuda.Emulator;
using static Tessera.Tests.Gpu.EmulatorForms.FormReferences;

namespace Tessera.Tests.Gpu.EmulatorForms;

/// <summary>
/// The memory, atomic, address-conversion, barrier, warp and control forms, each fed through a
/// small one-warp kernel whose result is computed here by hand.
/// </summary>
internal static class FormCases
{
    private static readonly string[] s_memoryTypes = ["b8", "u8", "s8", "b16", "u16", "s16", "f16", "b32", "u32", "s32", "f32", "b64", "u64", "s64", "f64"];

    /// <summary>Runs every case, adds failures, returns the forms covered.</summary>
    public static IEnumerable<string> Run(PtxEmulatorDriver driver, List<string> failures)
    {
        var covered = new List<string>();
        var rng = new Random(19);
        ulong[] Input(Func<int, (ulong A, ulong B, ulong C, ulong Pad)> lane)
        {
            var input = new ulong[128];
            for (int l = 0; l < 32; l++)
                (input[4 * l], input[4 * l + 1], input[4 * l + 2], input[4 * l + 3]) = lane(l);
            return input;
        }
        void Check(string name, string body, ulong[] input, Func<int, ulong?> expected, ulong mask = ulong.MaxValue, string declarations = "", string extraParams = "", byte[][]? arguments = null, string[]? forms = null)
        {
            covered.AddRange(forms ?? []);
            ulong[] output;
            try
            {
                output = EmulatorFormTests.RunLanes(driver, body, input, declarations, extraParams, arguments);
            }
            catch (Exception e) when (e is PtxEmulatorException or Tessera.Engine.Cuda.CudaException)
            {
                failures.Add($"{name}: {e.Message}");
                return;
            }
            for (int l = 0; l < 32; l++)
                if (expected(l) is ulong want && (output[l] & mask) != (want & mask))
                {
                    failures.Add($"{name} lane {l}: got 0x{output[l] & mask:x}, expected 0x{want & mask:x}");
                    return;
                }
        }

        ulong[] random = Input(_ => ((ulong)rng.NextInt64(), (ulong)rng.NextInt64(), (ulong)rng.NextInt64(), 0));
        const string shared = ".shared .align 8 .b8 sm[256];\n";
        const string local = ".local .align 8 .b8 lm[8];\n";
        const string sharedSlot = "mov.u64 %x5, sm;\nshl.b64 %x6, %x2, 3;\nadd.s64 %x5, %x5, %x6;\n";

        // Loads and stores: a round trip of each type through each space; ld.param from a blob field.
        foreach (string t in s_memoryTypes)
        {
            ulong mask = Width(t) == 64 ? ulong.MaxValue : (1UL << Width(t)) - 1;
            foreach (string space in new[] { "", ".global", ".shared", ".local" })
            {
                string address = space switch { ".shared" => sharedSlot, ".local" => "mov.u64 %x5, lm;\n", _ => "add.s64 %x5, %x4, 8;\n" };
                Check($"st/ld{space}.{t}", address + $"st{space}.{t} [%x5], %a;\nld{space}.{t} %d, [%x5];\n", random, l => random[4 * l], mask,
                    space == ".shared" ? shared : space == ".local" ? local : "", forms: [$"st{space}.{t}", $"ld{space}.{t}"]);
            }
            Check($"st/ld.param.{t}", $"{{\n.param .align 8 .b8 tmp[8];\nst.param.{t} [tmp], %a;\nld.param.{t} %d, [tmp];\n}}\n", random, l => random[4 * l], mask, forms: [$"st.param.{t}"]);
            byte[] blob = Enumerable.Range(0, 16).Select(i => (byte)(0x11 * (i + 1))).ToArray();
            ulong field = BitConverter.ToUInt64(blob, 8);
            Check($"ld.param.{t}", $"ld.param.{t} %d, [blob+8];\n", random, _ => field, mask, extraParams: ",\n.param .align 8 .b8 blob[16]", arguments: [blob], forms: [$"ld.param.{t}"]);
        }

        // Atomics and reductions: every lane on one location (exch and cas: lane 0 only).
        foreach (string space in new[] { "", ".global", ".shared" })
        {
            string address = space == ".shared" ? "mov.u64 %x5, sm;\n" : "add.s64 %x5, %x0, 24;\n";
            string store = space == ".shared" ? "st.shared" : "st.global", load = space == ".shared" ? "ld.shared" : "ld.global";
            foreach (string form in PtxForms.All.Where(f => (f.StartsWith("atom", StringComparison.Ordinal) || f.StartsWith("red", StringComparison.Ordinal))
                && f.Split('.').Length == (space == "" ? 3 : 4) && (space == "" || f.Contains(space, StringComparison.Ordinal))))
            {
                string[] parts = form.Split('.');
                string op = parts[^2], t = parts[^1];
                bool isRed = parts[0] == "red";
                bool single = op is "exch" or "cas";
                int w = Width(t);
                ulong init = t == "f32" ? BitConverter.SingleToUInt32Bits(0.5f) : t == "f64" ? BitConverter.DoubleToUInt64Bits(0.5) : Operand(rng, w);
                ulong[] input = Input(l => (
                    t == "f32" ? BitConverter.SingleToUInt32Bits(l + 1) : t == "f64" ? BitConverter.DoubleToUInt64Bits(l + 1) : Operand(rng, w),
                    l == 0 ? init : Operand(rng, w), init, 0));
                if (space != ".shared")
                    input[3] = 0;
                string instruction = isRed ? $"{form} [%x5], %a;\n" : op == "cas" ? $"{form} %x7, [%x5], %b, %a;\n" : $"{form} %x7, [%x5], %a;\n";
                string body = address + $"{store}.{t} [%x5], %c;\nbar.sync 0;\nsetp.eq.u64 %pd, %x2, 0;\n" + (single ? "@%pd " : "") + instruction + $"bar.sync 0;\n{load}.{t} %d, [%x5];\n";
                ulong final = init;
                for (int l = 0; l < (single ? 1 : 32); l++)
                    final = Fold(op, t, final, input[4 * l], input[4 * l + 1]);
                Check(form, body, input, _ => final, w == 64 ? ulong.MaxValue : (1UL << w) - 1, space == ".shared" ? shared : "", forms: [form]);
            }
        }

        // Generic addresses: cvta into the generic space and back, for each window.
        foreach (string space in new[] { "shared", "local", "global" })
        {
            string address = space switch { "shared" => sharedSlot, "local" => "mov.u64 %x5, lm;\n", _ => "add.s64 %x5, %x4, 8;\n" };
            Check($"cvta.{space}", address + $"cvta.{space}.u64 %x6, %x5;\ncvta.to.{space}.u64 %x7, %x6;\nst.u32 [%x6], %a;\nld.{space}.u32 %d, [%x7];\n",
                random, l => random[4 * l], 0xFFFF_FFFF, space == "shared" ? shared : space == "local" ? local : "", forms: [$"cvta.{space}.u64", $"cvta.to.{space}.u64"]);
        }

        // Control flow.
        Check("bra", "setp.lt.u64 %pd, %x2, 16;\n@%pd bra L1;\nmov.b64 %d, 1;\nbra.uni L2;\nL1:\nmov.b64 %d, 2;\nL2:\n", random, l => l < 16 ? 2UL : 1UL, forms: ["bra", "bra.uni"]);
        foreach (string exit in new[] { "ret", "exit" })
        {
            ulong[] output = EmulatorFormTests.RunLanes(driver, $"mov.b64 %d, %a;\nsetp.eq.u64 %pd, %x2, 3;\n@%pd {exit};\n", random);
            covered.Add(exit);
            if (output[3] == random[12] || output[4] != random[16])
                failures.Add($"{exit}: lane 3 should have exited before its store and lane 4 stored its value");
        }

        // Barriers: bar.sync around a shared exchange; bar.red counts and votes; warp sync and fences.
        Check("bar.sync", sharedSlot + "st.shared.u64 [%x5], %a;\nbar.sync 0;\nmov.u64 %x5, sm;\nsub.s64 %x6, 31, %x2;\nshl.b64 %x6, %x6, 3;\nadd.s64 %x5, %x5, %x6;\nld.shared.u64 %d, [%x5];\n",
            random, l => random[4 * (31 - l)], declarations: shared, forms: ["bar.sync"]);
        Check("bar.red.popc", "setp.lt.u64 %pd, %x2, 11;\nbar.red.popc.u32 %x6, 0, %pd;\nbar.red.popc.u32 %x7, 0, !%pd;\nshl.b64 %x6, %x6, 8;\nor.b64 %d, %x6, %x7;\n",
            random, _ => 11 << 8 | 21, forms: ["bar.red.popc.u32"]);
        Check("bar.red.and/or", "setp.lt.u64 %pd, %x2, 11;\nbar.red.and.pred %pa, 0, %pd;\nbar.red.or.pred %pb, 0, %pd;\nsetp.lt.u64 %pc, %x2, 64;\nbar.red.and.pred %pc, 0, %pc;\n" +
            "selp.b64 %x6, 4, 0, %pa;\nselp.b64 %x7, 2, 0, %pb;\nor.b64 %d, %x6, %x7;\nselp.b64 %x7, 1, 0, %pc;\nor.b64 %d, %d, %x7;\n",
            random, _ => 3, forms: ["bar.red.and.pred", "bar.red.or.pred"]);
        Check("bar.warp.sync, membar", "bar.warp.sync -1;\nmembar.cta;\nmembar.gl;\nmembar.sys;\nmov.b64 %d, %a;\n", random, l => random[4 * l],
            forms: ["bar.warp.sync", "membar.cta", "membar.gl", "membar.sys"]);

        // Warp shuffles.
        foreach ((string mode, int b, Func<int, int> source) in new (string, int, Func<int, int>)[]
        {
            ("bfly", 1, l => l ^ 1), ("down", 2, l => l + 2 <= 31 ? l + 2 : l), ("up", 3, l => l - 3 >= 0 ? l - 3 : l), ("idx", 5, _ => 5),
        })
        {
            string clamp = mode == "up" ? "0" : "31";
            Check($"shfl.{mode}", $"shfl.sync.{mode}.b32 %d, %a, {b}, {clamp}, -1;\n", random, l => random[4 * source(l)], 0xFFFF_FFFF, forms: [$"shfl.sync.{mode}.b32"]);
        }

        // Tensor cores: A and B all ones, C zero: each D element is the 16-term dot product, 16.
        foreach ((string input, string one) in new[] { ("f16", "0x3C003C00"), ("bf16", "0x3F803F80") })
        {
            string setup = string.Concat(Enumerable.Range(0, 6).Select(i => $"mov.b32 %m{4 + i}, {one};\n")) + string.Concat(Enumerable.Range(10, 4).Select(i => $"mov.b32 %m{i}, 0;\n"));
            string mma = $"mma.sync.aligned.m16n8k16.row.col.f32.{input}.{input}.f32";
            Check(mma, setup + $"{mma} {{%m0, %m1, %m2, %m3}}, {{%m4, %m5, %m6, %m7}}, {{%m8, %m9}}, {{%m10, %m11, %m12, %m13}};\ncvt.u64.u32 %d, %m3;\n",
                random, _ => BitConverter.SingleToUInt32Bits(16f), 0xFFFF_FFFF, ".reg .b32 %m<14>;\n", forms: [mma]);
        }
        return covered;
    }

    private static ulong Operand(Random rng, int width) => width == 64 ? (ulong)rng.NextInt64() : (ulong)rng.NextInt64() & ((1UL << width) - 1);

    /// <summary>One atomic read-modify-write in the reference: old value, lane operand a, compare value b (cas).</summary>
    private static ulong Fold(string op, string t, ulong old, ulong a, ulong b)
    {
        int w = Width(t);
        if (t == "f32")
            return BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle((uint)old) + BitConverter.UInt32BitsToSingle((uint)a));
        if (t == "f64")
            return BitConverter.DoubleToUInt64Bits(BitConverter.UInt64BitsToDouble(old) + BitConverter.UInt64BitsToDouble(a));
        BigInteger x = Value(old, t), y = Value(a, t);
        BigInteger r = op switch
        {
            "add" => x + y,
            "min" => BigInteger.Min(x, y),
            "max" => BigInteger.Max(x, y),
            "and" => Value(old, "u" + w) & Value(a, "u" + w),
            "or" => Value(old, "u" + w) | Value(a, "u" + w),
            "xor" => Value(old, "u" + w) ^ Value(a, "u" + w),
            "exch" => Value(a, "u" + w),
            _ => Value(old, "u" + w) == Value(b, "u" + w) ? Value(a, "u" + w) : Value(old, "u" + w),
        };
        return Bits(r, w);
    }
}
