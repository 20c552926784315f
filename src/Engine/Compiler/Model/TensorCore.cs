namespace Tessera.Engine.Gpu;

/// <summary>
/// Warp-level tensor-core multiply-accumulate (PTX <c>mma.sync.aligned.m16n8k16.row.col.f32.{f16|bf16}.{f16|bf16}.f32</c>,
/// sm_80 and later). The 32 lanes of a warp together compute D = A·B + C for a 16×16 A, a 16×8 B
/// and a 16×8 f32 accumulator; each lane holds a fragment in registers:
/// <list type="bullet">
/// <item>A: four registers, each two 16-bit values packed low-then-high (<see cref="Pack"/>):
/// register r holds A[<see cref="ARow"/>(lane, r)][<see cref="AColumn"/>(lane, r) + 0 and + 1];</item>
/// <item>B: two registers: register r holds B[<see cref="BRow"/>(lane, r) + 0 and + 1][<see cref="BColumn"/>(lane)];</item>
/// <item>C/D: four floats: element i is C[<see cref="CRow"/>(lane, i)][<see cref="CColumn"/>(lane, i)].</item>
/// </list>
/// Every lane of the warp must execute the call together (no divergence, full warps). The
/// emulator computes A·B + C exactly and rounds once to f32; the hardware accumulates with at
/// least f32 precision, in an unspecified order.
/// </summary>
public static class TensorCore
{
    /// <summary>Rows and columns of the A tile, columns of the B tile, and depth of one mma.</summary>
    public const int M = 16, N = 8, K = 16;

    /// <summary>c += a·b with f16 (System.Half bit patterns) inputs and f32 accumulation.</summary>
    public static void MmaF16(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, ref float c0, ref float c1, ref float c2, ref float c3)
        => throw CpuGrid.NeedsDevice("TensorCore.MmaF16");

    /// <summary>c += a·b with bf16 (<see cref="BFloat16"/> bit patterns) inputs and f32 accumulation.</summary>
    public static void MmaBF16(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1, ref float c0, ref float c1, ref float c2, ref float c3)
        => throw CpuGrid.NeedsDevice("TensorCore.MmaBF16");

    /// <summary>Two 16-bit values in one fragment register, <paramref name="low"/> first (the element with the smaller index).</summary>
    public static uint Pack(ushort low, ushort high) => low | (uint)high << 16;

    /// <summary>Row of A held by register <paramref name="register"/> (0–3) of <paramref name="lane"/>.</summary>
    public static int ARow(int lane, int register) => (lane >> 2) + ((register & 1) != 0 ? 8 : 0);

    /// <summary>First of the two adjacent columns of A held by register <paramref name="register"/> (0–3) of <paramref name="lane"/>.</summary>
    public static int AColumn(int lane, int register) => 2 * (lane & 3) + (register >= 2 ? 8 : 0);

    /// <summary>First of the two adjacent rows (k) of B held by register <paramref name="register"/> (0–1) of <paramref name="lane"/>.</summary>
    public static int BRow(int lane, int register) => 2 * (lane & 3) + 8 * register;

    /// <summary>Column (n) of B held by <paramref name="lane"/>.</summary>
    public static int BColumn(int lane) => lane >> 2;

    /// <summary>Row of accumulator element <paramref name="element"/> (0–3) of <paramref name="lane"/>.</summary>
    public static int CRow(int lane, int element) => (lane >> 2) + (element >= 2 ? 8 : 0);

    /// <summary>Column of accumulator element <paramref name="element"/> (0–3) of <paramref name="lane"/>.</summary>
    public static int CColumn(int lane, int element) => 2 * (lane & 3) + (element & 1);
}
