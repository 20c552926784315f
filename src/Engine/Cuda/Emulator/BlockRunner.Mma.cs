using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D = A·B + C for a 16×16 A, a 16×8 B and
/// 16×8 f32 C/D, the fragments spread over the 32 lanes as the PTX ISA lays them out
/// ("Matrix Fragments for mma.m16n8k16 with floating point type"): with g = lane / 4 and
/// t = lane % 4, A register j of a lane holds elements a(2j), a(2j+1) (low half first) at
/// row g (+8 for a2, a3, a6, a7) and column 2t + (i &amp; 1) (+8 for a4..a7); B register j holds
/// b(2j), b(2j+1) at row 2t + (i &amp; 1) (+8 for b2, b3) and column g; C/D element i sits at row
/// g (+8 for c2, c3) and column 2t + (i &amp; 1).
/// </summary>
internal sealed partial class BlockRunner
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Mma(EmulatedWarp w, ref XInst x, uint mask, int pc)
    {
        if (mask != uint.MaxValue)
            throw new PtxEmulatorException($"{_kernel.Name}: '{_kernel.Code[pc].Text}' in warp {w.Index} of block ({_blockX},{_blockY},{_blockZ}) is executed by {BitOperations.PopCount(mask)} lanes; mma.sync.aligned needs all 32 lanes of the warp (launch blocks of a multiple of 32 threads and keep every lane alive)");
        bool bf16 = _kernel.Code[pc].Modifier == "bf16";
        ulong[] f = w.File;
        ReadOnlySpan<int> regs = _program.Lists.AsSpan(x.List, 14); // D0..3, A0..3, B0..1, C0..3
        Span<double> a = stackalloc double[16 * 16];
        Span<double> b = stackalloc double[16 * 8];
        Span<double> c = stackalloc double[16 * 8];
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3;
            for (int i = 0; i < 8; i++)
            {
                int row = g + ((i & 2) != 0 ? 8 : 0), column = 2 * t + (i & 1) + (i >= 4 ? 8 : 0);
                a[row * 16 + column] = Element(f[regs[4 + i / 2] + lane], i & 1, bf16);
            }
            for (int i = 0; i < 4; i++)
                b[(2 * t + (i & 1) + (i >= 2 ? 8 : 0)) * 8 + g] = Element(f[regs[8 + i / 2] + lane], i & 1, bf16);
            for (int i = 0; i < 4; i++)
                c[(g + (i >= 2 ? 8 : 0)) * 8 + 2 * t + (i & 1)] = Lanes.F32(f[regs[10 + i] + lane]);
        }
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane >> 2, t = lane & 3;
            for (int i = 0; i < 4; i++)
            {
                int row = g + (i >= 2 ? 8 : 0), column = 2 * t + (i & 1);
                // Products of f16/bf16 values are exact in double, and so is a sum of 16 of them
                // (53-bit mantissa): the result is the exact A·B + C rounded once to f32.
                double sum = c[row * 8 + column];
                for (int k = 0; k < 16; k++)
                    sum += a[row * 16 + k] * b[k * 8 + column];
                f[regs[i] + lane] = Lanes.Bits((float)sum);
            }
        }
    }

    /// <summary>Element <paramref name="half"/> (0 = low 16 bits) of a packed f16x2 or bf16x2 register.</summary>
    private static double Element(ulong register, int half, bool bf16)
    {
        ushort bits = (ushort)(register >> (16 * half));
        return bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (double)BitConverter.UInt16BitsToHalf(bits);
    }
}
