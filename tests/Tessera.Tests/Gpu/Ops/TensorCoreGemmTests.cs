using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>One mma.sync per warp with the fragments gathered by the PTX ISA formulas, written out independently of TensorCore's helpers.</summary>
internal static class MmaKernels
{
    [Kernel]
    public static void OneTile(
        // [16, 16] f16 or bf16 bits
        DeviceSpan<ushort> a,
        // [16, 8] f16 or bf16 bits
        DeviceSpan<ushort> b,
        // [16, 8]
        DeviceSpan<float> c,
        int bf16,
        // [16, 8]
        DeviceSpan<float> d)
    {
        int lane = Grid.ThreadX & 31;
        int g = lane >> 2, t = lane & 3;
        uint a0 = TensorCore.Pack(a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]);
        uint a1 = TensorCore.Pack(a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]);
        uint a2 = TensorCore.Pack(a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]);
        uint a3 = TensorCore.Pack(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9]);
        uint b0 = TensorCore.Pack(b[2 * t * 8 + g], b[(2 * t + 1) * 8 + g]);
        uint b1 = TensorCore.Pack(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g]);
        float c0 = c[g * 8 + 2 * t], c1 = c[g * 8 + 2 * t + 1], c2 = c[(g + 8) * 8 + 2 * t], c3 = c[(g + 8) * 8 + 2 * t + 1];
        if (bf16 != 0)
            TensorCore.MmaBF16(a0, a1, a2, a3, b0, b1, ref c0, ref c1, ref c2, ref c3);
        else
            TensorCore.MmaF16(a0, a1, a2, a3, b0, b1, ref c0, ref c1, ref c2, ref c3);
        if (Grid.ThreadX < 32)
        {
            d[g * 8 + 2 * t] = c0;
            d[g * 8 + 2 * t + 1] = c1;
            d[(g + 8) * 8 + 2 * t] = c2;
            d[(g + 8) * 8 + 2 * t + 1] = c3;
        }
    }
}

/// <summary>mma.sync on the emulator (fragment layouts, exactness, full-warp rule) and the tensor-core GEMM against a C# reference.</summary>
public class TensorCoreGemmTests
{
    private static ushort[] Bits(float[] values, bool bf16)
        => values.Select(v => bf16 ? ((BFloat16)v).Bits : BitConverter.HalfToUInt16Bits((Half)v)).ToArray();

    private static float Value(ushort bits, bool bf16) => bf16 ? (float)BFloat16.FromBits(bits) : (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>C + A·B from the 16-bit inputs, summed in double (exact for one 16-deep tile) and rounded once.</summary>
    private static float[] Reference(ushort[] a, ushort[] b, float[]? c, int rows, int inner, int columns, bool bf16)
    {
        var result = new float[rows * columns];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++)
            {
                double sum = c?[i * columns + j] ?? 0;
                for (int k = 0; k < inner; k++)
                    sum += (double)Value(a[i * inner + k], bf16) * Value(b[k * columns + j], bf16);
                result[i * columns + j] = (float)sum;
            }
        return result;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OneMmaFollowsThePtxFragmentLayoutExactly(bool bf16)
    {
        ushort[] a = Bits(GpuTestSupport.RandomFloats(16 * 16, 1, -2f, 2f), bf16);
        ushort[] b = Bits(GpuTestSupport.RandomFloats(16 * 8, 2, -2f, 2f), bf16);
        float[] c = GpuTestSupport.RandomFloats(16 * 8, 3);
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var da = DeviceBuffer<ushort>.From(driver, a);
        using var db = DeviceBuffer<ushort>.From(driver, b);
        using var dc = DeviceBuffer<float>.From(driver, c);
        using var dd = DeviceBuffer<float>.Allocate(driver, 16 * 8);
        launcher.Launch(MmaKernels.OneTile, 1, 64, da.View, db.View, dc.View, bf16 ? 1 : 0, dd.View);
        Assert.Equal(Reference(a, b, c, 16, 16, 8, bf16), dd.ToArray());
    }

    [Fact]
    public void MmaNeedsEveryLaneOfTheWarp()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var a = DeviceBuffer<ushort>.From(driver, new ushort[256]);
        using var c = DeviceBuffer<float>.From(driver, new float[128]);
        using var d = DeviceBuffer<float>.Allocate(driver, 128);
        var error = Assert.Throws<PtxEmulatorException>(() => launcher.Launch(MmaKernels.OneTile, 1, 48, a.View, a.View, c.View, 0, d.View));
        Assert.Contains("all 32 lanes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FragmentHelpersMatchThePtxFormulas()
    {
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3;
            for (int i = 0; i < 8; i++)   // a_i lives in register i / 2
            {
                Assert.Equal(i is < 2 or (>= 4 and < 6) ? g : g + 8, TensorCore.ARow(lane, i / 2));
                Assert.Equal(2 * t + (i & 1) + (i >= 4 ? 8 : 0), TensorCore.AColumn(lane, i / 2) + (i & 1));
            }
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(2 * t + (i & 1) + (i >= 2 ? 8 : 0), TensorCore.BRow(lane, i / 2) + (i & 1));
                Assert.Equal(i < 2 ? g : g + 8, TensorCore.CRow(lane, i));
                Assert.Equal(2 * t + (i & 1), TensorCore.CColumn(lane, i));
            }
            Assert.Equal(g, TensorCore.BColumn(lane));
        }
    }

    [Theory]
    [InlineData(false, 64, 32, 64, null)]
    [InlineData(true, 64, 32, 64, null)]
    [InlineData(false, 70, 40, 72, null)]   // edges in every dimension, k not a multiple of 32
    [InlineData(true, 33, 17, 9, 5)]        // shuffled threads: each lane alone until the mma rendezvous
    public void GemmMatchesReference(bool bf16, int rows, int inner, int columns, int? shuffleSeed)
    {
        float[] av = GpuTestSupport.RandomFloats(rows * inner, 11), bv = GpuTestSupport.RandomFloats(inner * columns, 12);
        ushort[] a = Bits(av, bf16), b = Bits(bv, bf16);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = shuffleSeed });
        using var launcher = new KernelLauncher(driver);
        using var c = DeviceBuffer<float>.Allocate(driver, rows * columns);
        if (bf16)
        {
            using var da = DeviceBuffer<BFloat16>.From(driver, a.Select(BFloat16.FromBits).ToArray());
            using var db = DeviceBuffer<BFloat16>.From(driver, b.Select(BFloat16.FromBits).ToArray());
            TensorCoreGemm.Run(launcher, da.View, db.View, rows, inner, columns, c.View);
        }
        else
        {
            using var da = DeviceBuffer<Half>.From(driver, a.Select(BitConverter.UInt16BitsToHalf).ToArray());
            using var db = DeviceBuffer<Half>.From(driver, b.Select(BitConverter.UInt16BitsToHalf).ToArray());
            TensorCoreGemm.Run(launcher, da.View, db.View, rows, inner, columns, c.View);
        }
        // Each 16-deep mma rounds once to f32: a few f32 ulps over the k steps.
        GpuTestSupport.AssertClose(Reference(a, b, null, rows, inner, columns, bf16), c.ToArray(), 1e-5f, 1e-5f, $"{(bf16 ? "bf16" : "f16")} GEMM {rows}x{inner}x{columns}");
    }

    [Fact]
    public void GemmCompilesToMmaSyncInRegisters()
    {
        foreach (Type input in new[] { typeof(F16Input), typeof(BF16Input) })
        {
            string ptx = KernelCompiler.Compile(typeof(TensorCoreGemm).GetMethod(nameof(TensorCoreGemm.Gemm))!.MakeGenericMethod(input), GpuTarget.Sm90).Ptx;
            string type = input == typeof(F16Input) ? "f16" : "bf16";
            Assert.Equal(16, ptx.Split($"mma.sync.aligned.m16n8k16.row.col.f32.{type}.{type}.f32").Length - 1);
            Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);   // the 32 accumulators were promoted to registers
        }
    }

    [Fact]
    public void GemmRejectsShortViews()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var a = DeviceBuffer<Half>.Allocate(driver, 8);
        using var c = DeviceBuffer<float>.Allocate(driver, 16);
        var error = Assert.Throws<ArgumentException>(() => TensorCoreGemm.Run(launcher, a.View, a.View, 4, 4, 4, c.View));
        Assert.Contains("views too short", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BFloat16RoundsToNearestEven()
    {
        Assert.Equal((ushort)0x3F80, ((BFloat16)1f).Bits);
        Assert.Equal((ushort)0x3F80, ((BFloat16)BitConverter.UInt32BitsToSingle(0x3F80_8000)).Bits);   // tie, even stays
        Assert.Equal((ushort)0x3F82, ((BFloat16)BitConverter.UInt32BitsToSingle(0x3F81_8000)).Bits);   // tie, odd rounds up
        Assert.Equal((ushort)0x3F81, ((BFloat16)BitConverter.UInt32BitsToSingle(0x3F80_8001)).Bits);   // above the tie
        Assert.True(float.IsNaN((float)(BFloat16)float.NaN));
        Assert.Equal(float.NegativeInfinity, (float)(BFloat16)float.NegativeInfinity);
        Assert.Equal(-2.5f, (float)(BFloat16)(-2.5f));
    }
}
