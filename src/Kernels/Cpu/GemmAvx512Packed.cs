using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// SGEMM in the Goto/BLIS style for AVX-512: B is packed into 32-column panels and A into 8-row
/// panels per cache block, and an 8×32 register-tile micro-kernel (16 zmm accumulators, two B
/// vectors, one broadcast of A; 8 rows so the usual channel counts need no edge tiles) runs the
/// inner product with FMAs. The micro-kernel is a leaf loop with no calls, so the accumulators
/// stay in registers (see docs/PERFORMANCE.md); it is generic over where A's and B's values come
/// from, so the same code also reads operands in place (<see cref="RunIndirectSlice"/>,
/// <see cref="AccumulateRowsA"/>: convolutions on a padded image).
/// Same contract as <see cref="Gemm.Run"/>: C = alpha·op(A)·op(B) + beta·C, row-major.
/// The cache blocks come from the processor's caches (<see cref="GemmBlocking"/>).
/// </summary>
public static unsafe class GemmAvx512Packed
{
    public const int MR = 8;
    public const int NR = 32;
    // Cache blocks from this CPU's caches (GemmBlocking); static readonly, so tier-1 code sees constants.
    private static readonly int KC = GemmBlocking.Current.KC;
    private static readonly int MC = GemmBlocking.Current.MC;
    private static readonly int NC = GemmBlocking.Current.NC;
    private const int TasksPerThread = 4;

    public static bool IsSupported => Avx512F.IsSupported;

    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m == 0 || n == 0)
            return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        int nBlock = Math.Min(NC, RoundUp(n, NR));
        int kBlock = KBlockFor(k);
        int threads = CpuParallel.EffectiveThreads;
        if (threads > 1 && m <= MC * 2 && (n + NR - 1) / NR >= 2 * threads && k >= 4 * KC)
        {
            RunColumnOwners(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
            return;
        }
        // Packed B is shared by every task of a (jc, pc) block; each task packs its own A block.
        float* pb = Scratch.Get(ref _packedB, nBlock * kBlock);
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            int nPanels = (nc + NR - 1) / NR;
            // Four tasks per thread, each an equal share of the 8-row micro-panels (or of the B
            // panels when there are too few rows), taken dynamically: a static split waits for
            // whichever core the shared host slows, and chunks of whole MC blocks were uneven.
            int microRows = (m + MR - 1) / MR;
            int rowTasks = Math.Min(TasksPerThread * threads, Math.Max(1, microRows / 4));
            int columnTasks = Math.Min(Math.Max(1, TasksPerThread * threads / rowTasks), nPanels);
            int tasks = rowTasks * columnTasks;
            for (int pc = 0; pc < k; pc += kBlock)
            {
                int kc = Math.Min(kBlock, k - pc);
                if (transposeB)
                {
                    CpuParallel.ForCost(nPanels, (long)kc * NR, (from, to) =>
                    {
                        for (int panel = from; panel < to; panel++)
                            PackBTransposed(b, ldb, pc, kc, jc + panel * NR, Math.Min(NR, nc - panel * NR), pb + (long)panel * NR * kc);
                    });
                }
                else
                {
                    // Split over k rows: each thread reads whole row segments of B front to back.
                    CpuParallel.ForCost(kc, nc, (from, to) => PackBRows(b, ldb, pc, from, to, kc, jc, nc, pb));
                }
                float betaHere = pc == 0 ? beta : 1f;
                CpuParallel.ForCost(tasks, 2L * m * kc * nc / tasks, (from, to) =>
                {
                    float* pa = Scratch.Get(ref _packedA, MC * KC);
                    for (int task = from; task < to; task++)
                    {
                        int rowTask = task / columnTasks, columnTask = task % columnTasks;
                        int rowStart = (int)((long)microRows * rowTask / rowTasks) * MR;
                        int rowEnd = Math.Min(m, (int)((long)microRows * (rowTask + 1) / rowTasks) * MR);
                        int panelStart = (int)((long)nPanels * columnTask / columnTasks);
                        int panelEnd = (int)((long)nPanels * (columnTask + 1) / columnTasks);
                        int subBlocks = (rowEnd - rowStart + MC - 1) / MC;
                        int subRows = RoundUp((rowEnd - rowStart + subBlocks - 1) / subBlocks, MR);
                        for (int ic = rowStart; ic < rowEnd; ic += subRows)
                        {
                            int mc = Math.Min(subRows, rowEnd - ic);
                            PackA(transposeA, a, lda, ic, mc, pc, kc, pa);
                            int j0 = panelStart * NR;
                            RunSlice(mc, Math.Min(nc, panelEnd * NR) - j0, kc, pa, new PackedPanel { Row = pb + (long)j0 * kc }, (long)NR * kc,
                                c + (long)ic * ldc + jc + j0, ldc, alpha, betaHere);
                        }
                    }
                });
            }
        }
    }

    /// <summary>
    /// Few rows and a long K (a linear layer's weight gradient, xᵀ·dY: 192 × 768 over K = 4096):
    /// each thread owns a range of B's panels for the whole product and packs its own B and its
    /// own copy of the (small) A per K block. No loop per K block and no barrier between packing
    /// and computing, so one thread's B stream from memory overlaps the other's arithmetic (the
    /// shared-B path spent ~25% of this shape waiting on its separate packing pass). Each C value
    /// sums K in the same order as the shared path: the same bits.
    /// </summary>
    private static void RunColumnOwners(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, int threads)
    {
        int panels = (n + NR - 1) / NR;
        int kBlock = KBlockFor(k);
        CpuParallel.For(threads, 1, (from, to) =>
        {
            for (int owner = from; owner < to; owner++)
            {
                int firstPanel = (int)((long)panels * owner / threads), lastPanel = (int)((long)panels * (owner + 1) / threads);
                int j0 = firstPanel * NR, nc = Math.Min(n, lastPanel * NR) - j0;
                int ownPanels = lastPanel - firstPanel;
                float* pa = Scratch.Get(ref _packedA, RoundUp(m, MR) * KC);
                float* pb = Scratch.Get(ref _packedB, ownPanels * NR * KC);
                for (int pc = 0; pc < k; pc += kBlock)
                {
                    int kc = Math.Min(kBlock, k - pc);
                    if (transposeB)
                        for (int panel = 0; panel < ownPanels; panel++)
                            PackBTransposed(b, ldb, pc, kc, j0 + panel * NR, Math.Min(NR, nc - panel * NR), pb + (long)panel * NR * kc);
                    else
                        PackBRows(b, ldb, pc, 0, kc, kc, j0, nc, pb);
                    PackA(transposeA, a, lda, 0, m, pc, kc, pa);
                    RunSlice(m, nc, kc, pa, new PackedPanel { Row = pb }, (long)NR * kc, c + j0, ldc, alpha, pc == 0 ? beta : 1f);
                }
            }
        });
    }

    /// <summary>Floats <see cref="PackWholeA"/> writes for an [m, k] A.</summary>
    public static long PackedASize(int m, int k) => (long)RoundUp(m, MR) * k;

    /// <summary>
    /// Packs all of a row-major A [m, k] (lda) for <see cref="RunPrepacked"/>: for each K block
    /// in turn, its 8-row panels (k-major, the last zero-padded). Lets a caller that multiplies the
    /// same A many times (a conv weight, once per image chunk) pack it once.
    /// </summary>
    public static void PackWholeA(int m, int k, float* a, int lda, float* packed)
    {
        int rows = RoundUp(m, MR);
        int kBlock = KBlockFor(k);
        for (int pc = 0; pc < k; pc += kBlock)
            PackA(false, a, lda, 0, m, pc, Math.Min(kBlock, k - pc), packed + (long)rows * pc);
    }

    /// <summary>
    /// Serial C = A·B with both operands already packed: A by <see cref="PackWholeA"/>, B as
    /// ceil(n / 32) panels, panel j = [k][32] values of columns 32j..32j+31 (zero past n), so a
    /// producer such as im2col writes panels directly. Overwrites C.
    /// </summary>
    public static void RunPrepacked(int m, int n, int k, float* packedA, float* packedB, float* c, int ldc)
    {
        if (m == 0 || n == 0)
            return;
        if (k == 0)
        {
            ScaleC(m, n, 0f, c, ldc);
            return;
        }
        int rows = RoundUp(m, MR);
        int kBlock = KBlockFor(k);
        for (int pc = 0; pc < k; pc += kBlock)
            RunSlice(m, n, Math.Min(kBlock, k - pc), packedA + (long)rows * pc, new PackedPanel { Row = packedB + (long)pc * NR }, (long)k * NR, c, ldc, 1f, pc > 0 ? 1f : 0f);
    }

    /// <summary>
    /// The K block for a product of depth k: at most <see cref="KC"/>, equal blocks (576 → 3 × 192
    /// rather than 256 + 256 + 64, whose short last block spends a quarter of its time on C).
    /// <see cref="PackWholeA"/> cuts K here, and so must a caller of <see cref="RunIndirectSlice"/>.
    /// </summary>
    public static int KBlockFor(int k)
    {
        int blocks = (k + KC - 1) / KC;
        return Math.Max(1, (k + blocks - 1) / blocks);
    }

    /// <summary>
    /// One K slice (kc ≤ <see cref="KBlockFor"/>(k)) of a product with A packed by
    /// <see cref="PackWholeA"/> (A_slice = packedA + roundUp(m, 8) · pc) and B read in place:
    /// B[p, j] = origin[rowOffsets[p] + j], every row contiguous (an "indirect" GEMM: a stride-1
    /// convolution's patch rows are runs of its padded image, so nothing is unfolded). Reads up to
    /// 31 floats past column n − 1 of each row (their results are dropped). C (+)= A_slice · B.
    /// </summary>
    public static void RunIndirectSlice(int m, int n, int kc, float* packedASlice, float* origin, long* rowOffsets, float* c, int ldc, bool accumulate) =>
        RunSlice(m, n, kc, packedASlice, new IndirectPanel { Origin = origin, Offsets = rowOffsets }, NR, c, ldc, 1f, accumulate ? 1f : 0f);

    /// <summary>
    /// C[m, n] = alpha · A·B + beta · C for one K slice: A packed in 8-row panels (panel i at
    /// packedA + 8i·kc), B's 32-column panel j found by moving <paramref name="firstPanel"/> by
    /// j · <paramref name="panelStep"/> floats. Each B panel (L1) meets all of A's rows (L2) in turn.
    /// Every GEMM path of this class ends here.
    /// </summary>
    private static void RunSlice<TRows>(int m, int n, int kc, float* packedA, TRows firstPanel, long panelStep, float* c, int ldc, float alpha, float beta)
        where TRows : struct, IPanelRows
    {
        float* edge = stackalloc float[MR * NR];
        int nPanels = (n + NR - 1) / NR;
        for (int panel = 0; panel < nPanels; panel++)
        {
            int jr = panel * NR;
            int nr = Math.Min(NR, n - jr);
            var rows = firstPanel;
            rows.Move(panel * panelStep);
            for (int ir = 0; ir < m; ir += MR)
                Tile(kc, new PackedA { Column = packedA + (long)ir * kc }, rows, alpha, beta, c + (long)ir * ldc + jr, ldc, Math.Min(MR, m - ir), nr, edge);
        }
    }

    /// <summary>
    /// Serial C[m, n] += A[m, k] · op(B) where row i of A is the k contiguous floats at
    /// <paramref name="aBase"/> + <paramref name="rowOffsets"/>[i], read in place (a convolution's
    /// weight gradient: the rows are runs of the padded image), and B is row-major [n, k]
    /// (transposed: its 32-column panels are packed once per K block; n is small).
    /// </summary>
    public static void AccumulateRowsA(int m, int n, int k, float* aBase, long* rowOffsets, float* bTransposed, int ldb, float* c, int ldc)
    {
        if (m == 0 || n == 0 || k == 0)
            return;
        int nPanels = (n + NR - 1) / NR;
        float* pb = Scratch.Get(ref _packedB, nPanels * NR * KC);
        float* edge = stackalloc float[MR * NR];
        int kBlock = KBlockFor(k);
        for (int pc = 0; pc < k; pc += kBlock)
        {
            int kc = Math.Min(kBlock, k - pc);
            for (int panel = 0; panel < nPanels; panel++)
                PackBTransposed(bTransposed, ldb, pc, kc, panel * NR, Math.Min(NR, n - panel * NR), pb + (long)panel * NR * kc);
            for (int ir = 0; ir < m; ir += MR)
            {
                int mr = Math.Min(MR, m - ir);
                // Rows past m repeat the last one (their results are dropped).
                long Row(int r) => rowOffsets[ir + Math.Min(r, mr - 1)] + pc;
                var a = new RowsA
                {
                    R0 = aBase + Row(0), R1 = aBase + Row(1), R2 = aBase + Row(2), R3 = aBase + Row(3),
                    R4 = aBase + Row(4), R5 = aBase + Row(5), R6 = aBase + Row(6), R7 = aBase + Row(7),
                };
                for (int panel = 0; panel < nPanels; panel++)
                {
                    int jr = panel * NR;
                    Tile(kc, a, new PackedPanel { Row = pb + (long)panel * NR * kc }, 1f, 1f, c + (long)ir * ldc + jr, ldc, mr, Math.Min(NR, n - jr), edge);
                }
            }
        }
    }

    // Packing buffers, one pair per thread, kept between calls (GEMMs inside attention and conv run thousands of times).
    [ThreadStatic] private static float[]? _packedA;
    [ThreadStatic] private static float[]? _packedB;

    /// <summary>
    /// One mr×nr tile of C: the micro-kernel in place when the tile is full, otherwise through
    /// the 8×32 scratch <paramref name="edge"/> (valid part copied in and out).
    /// </summary>
    private static void Tile<TA, TRows>(int kc, TA aPanel, TRows rows, float alpha, float beta, float* cTile, int ldc, int mr, int nr, float* edge)
        where TA : struct, IPanelColumns
        where TRows : struct, IPanelRows
    {
        if (mr == MR && nr == NR)
        {
            MicroKernel(kc, aPanel, rows, alpha, beta, cTile, ldc);
            return;
        }
        for (int r = 0; r < MR; r++)
            for (int col = 0; col < NR; col++)
                edge[r * NR + col] = r < mr && col < nr ? cTile[(long)r * ldc + col] : 0f;
        MicroKernel(kc, aPanel, rows, alpha, beta, edge, NR);
        for (int r = 0; r < mr; r++)
            for (int col = 0; col < nr; col++)
                cTile[(long)r * ldc + col] = edge[r * NR + col];
    }

    /// <summary>Where the micro-kernel finds the 8 A values of each k in turn (Value is called with constants 0-7).</summary>
    private interface IPanelColumns
    {
        float Value(int row);
        void Advance();
    }

    /// <summary>A packed A panel: 8 values per k, one after the other.</summary>
    private struct PackedA : IPanelColumns
    {
        public float* Column;
        public readonly float Value(int row) => Column[row];
        public void Advance() => Column += MR;
    }

    /// <summary>A read in place from 8 rows, each contiguous along k (a convolution's padded image rows).</summary>
    private struct RowsA : IPanelColumns
    {
        public float* R0, R1, R2, R3, R4, R5, R6, R7;
        public readonly float Value(int row) => row switch
        {
            0 => *R0, 1 => *R1, 2 => *R2, 3 => *R3, 4 => *R4, 5 => *R5, 6 => *R6, _ => *R7,
        };
        public void Advance()
        {
            R0++; R1++; R2++; R3++; R4++; R5++; R6++; R7++;
        }
    }

    /// <summary>Where the micro-kernel finds the 32 B values of each k in turn.</summary>
    private interface IPanelRows
    {
        float* Current { get; }
        void Advance();
        /// <summary>Moves the origin by a number of floats (to another panel).</summary>
        void Move(long floats);
    }

    /// <summary>A packed panel: 32 values per k, one after the other.</summary>
    private struct PackedPanel : IPanelRows
    {
        public float* Row;
        public readonly float* Current => Row;
        public void Advance() => Row += NR;
        public void Move(long floats) => Row += floats;
    }

    /// <summary>Rows read in place: k's 32 values start at Origin + Offsets[k] (a convolution's padded image).</summary>
    private struct IndirectPanel : IPanelRows
    {
        public float* Origin;
        public long* Offsets;
        public readonly float* Current => Origin + *Offsets;
        public void Advance() => Offsets++;
        public void Move(long floats) => Origin += floats;
    }

    /// <summary>
    /// C[8, 32] = alpha · Apanel[8, kc] · B[kc, 32] + beta · C (beta = 0 ignores old C, so
    /// NaN garbage there does not leak). A's 8 values per k come from <paramref name="ap"/> and B's
    /// 32 from <paramref name="rows"/> (specialised per source, so the loop has no calls).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MicroKernel<TA, TRows>(int kc, TA ap, TRows rows, float alpha, float beta, float* c, int ldc)
        where TA : struct, IPanelColumns
        where TRows : struct, IPanelRows
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        // Fetch the C tile now: it is read only after the k loop, and at large ldc its 16 lines
        // (8 rows, 8 KiB apart) come from L3 or memory, which the hardware prefetcher does not predict.
        for (int r = 0; r < MR; r++)
        {
            Sse.Prefetch0(c + (long)r * ldc);
            Sse.Prefetch0(c + (long)r * ldc + 16);
        }
        for (int p = 0; p < kc; p++)
        {
            float* bp = rows.Current;
            var b0 = Avx512F.LoadVector512(bp);
            var b1 = Avx512F.LoadVector512(bp + 16);
            var a = Vector512.Create(ap.Value(0));
            c00 = Avx512F.FusedMultiplyAdd(a, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(ap.Value(1));
            c10 = Avx512F.FusedMultiplyAdd(a, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(ap.Value(2));
            c20 = Avx512F.FusedMultiplyAdd(a, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(ap.Value(3));
            c30 = Avx512F.FusedMultiplyAdd(a, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(ap.Value(4));
            c40 = Avx512F.FusedMultiplyAdd(a, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(ap.Value(5));
            c50 = Avx512F.FusedMultiplyAdd(a, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(ap.Value(6));
            c60 = Avx512F.FusedMultiplyAdd(a, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(ap.Value(7));
            c70 = Avx512F.FusedMultiplyAdd(a, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(a, b1, c71);
            ap.Advance();
            rows.Advance();
        }
        var va = Vector512.Create(alpha);
        Store(c, va, beta, c00, c01);
        Store(c + ldc, va, beta, c10, c11);
        Store(c + 2L * ldc, va, beta, c20, c21);
        Store(c + 3L * ldc, va, beta, c30, c31);
        Store(c + 4L * ldc, va, beta, c40, c41);
        Store(c + 5L * ldc, va, beta, c50, c51);
        Store(c + 6L * ldc, va, beta, c60, c61);
        Store(c + 7L * ldc, va, beta, c70, c71);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* row, Vector512<float> alpha, float beta, Vector512<float> left, Vector512<float> right)
    {
        if (beta == 0f)
        {
            Avx512F.Store(row, left * alpha);
            Avx512F.Store(row + 16, right * alpha);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Avx512F.Store(row, Avx512F.FusedMultiplyAdd(left, alpha, Avx512F.LoadVector512(row) * vb));
            Avx512F.Store(row + 16, Avx512F.FusedMultiplyAdd(right, alpha, Avx512F.LoadVector512(row + 16) * vb));
        }
    }

    /// <summary>Packs A[ic..ic+mc, pc..pc+kc] into 8-row panels, k-major, zero-padding the last panel.</summary>
    private static void PackA(bool transposeA, float* a, int lda, int ic, int mc, int pc, int kc, float* packed)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* panel = packed + (long)ir * kc;
            if (transposeA)
            {
                // Aᵀ: the 8 values of one k are contiguous in memory.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(pc + p) * lda + ic + ir;
                    float* dst = panel + (long)p * MR;
                    if (mr == MR)
                    {
                        Vector256.Load(src).Store(dst);
                    }
                    else
                    {
                        for (int r = 0; r < MR; r++) dst[r] = r < mr ? src[r] : 0f;
                    }
                }
                continue;
            }
            float* row0 = a + (long)(ic + ir) * lda + pc;
            int p0 = 0;
            if (mr == MR && Avx.IsSupported)
            {
                // 8 rows × 8 k at a time: load, transpose in registers, store k-major.
                for (; p0 <= kc - 8; p0 += 8)
                    Transpose8x8(row0 + p0, lda, panel + (long)p0 * MR, MR);
            }
            for (int p = p0; p < kc; p++)
                for (int r = 0; r < MR; r++)
                    panel[(long)p * MR + r] = r < mr ? row0[(long)r * lda + p] : 0f;
        }
    }

    /// <summary>destination[j * destinationStride + i] = source[i * stride + j] for an 8×8 block (the classic unpack/shuffle/permute transpose).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* source, int stride, float* destination, int destinationStride)
    {
        var r0 = Avx.LoadVector256(source);
        var r1 = Avx.LoadVector256(source + stride);
        var r2 = Avx.LoadVector256(source + 2L * stride);
        var r3 = Avx.LoadVector256(source + 3L * stride);
        var r4 = Avx.LoadVector256(source + 4L * stride);
        var r5 = Avx.LoadVector256(source + 5L * stride);
        var r6 = Avx.LoadVector256(source + 6L * stride);
        var r7 = Avx.LoadVector256(source + 7L * stride);
        Transpose8x8Store(r0, r1, r2, r3, r4, r5, r6, r7, destination, destinationStride);
    }

    /// <summary>Stores the transpose of the 8×8 block held in rows r0..r7 (the classic unpack/shuffle/permute network).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8Store(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* destination, int destinationStride)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(destination, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(destination + 1L * destinationStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(destination + 2L * destinationStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(destination + 3L * destinationStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(destination + 4L * destinationStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(destination + 5L * destinationStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(destination + 6L * destinationStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(destination + 7L * destinationStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>
    /// Packs rows [p0, p1) of the block B[pc..pc+kc, jc..jc+nc] into its 32-column panels (panel j
    /// holds kc × 32 values), zero-padding the last panel. Reads each row of B front to back, so
    /// the hardware prefetcher streams it (panel-by-panel reading jumps ldb floats per value row).
    /// </summary>
    private static void PackBRows(float* b, int ldb, int pc, int p0, int p1, int kc, int jc, int nc, float* packed)
    {
        int fullPanels = nc / NR;
        int rest = nc - fullPanels * NR;
        long panelStride = (long)NR * kc;
        for (int p = p0; p < p1; p++)
        {
            float* src = b + (long)(pc + p) * ldb + jc;
            float* dst = packed + (long)p * NR;
            for (int panel = 0; panel < fullPanels; panel++)
            {
                Vector512.Load(src).Store(dst);
                Vector512.Load(src + 16).Store(dst + 16);
                src += NR;
                dst += panelStride;
            }
            if (rest > 0)
            {
                for (int col = 0; col < rest; col++) dst[col] = src[col];
                for (int col = rest; col < NR; col++) dst[col] = 0f;
            }
        }
    }

    /// <summary>Packs Bᵀ: columns j0..j0+nr of op(B) are rows of B; fills one 32-column panel, zero-padding missing columns.</summary>
    private static void PackBTransposed(float* b, int ldb, int pc, int kc, int j0, int nr, float* panel)
    {
        // Bᵀ: each column of the panel is a contiguous row of B. Blocks of 8 columns × 8 k are
        // transposed in registers; the rest is scattered into the (L1-resident) panel.
        int fullColumns = Avx.IsSupported ? nr / 8 * 8 : 0;
        int fullK = kc / 8 * 8;
        for (int col = 0; col < fullColumns; col += 8)
            for (int p = 0; p < fullK; p += 8)
                Transpose8x8(b + (long)(j0 + col) * ldb + pc + p, ldb, panel + (long)p * NR + col, NR);
        for (int col = 0; col < nr; col++)
        {
            float* src = b + (long)(j0 + col) * ldb + pc;
            for (int p = col < fullColumns ? fullK : 0; p < kc; p++) panel[(long)p * NR + col] = src[p];
        }
        for (int col = nr; col < NR; col++)
            for (int p = 0; p < kc; p++) panel[(long)p * NR + col] = 0f;
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}

/// <summary>Per-thread scratch arrays on the pinned heap, grown on demand and reused.</summary>
internal static unsafe class Scratch
{
    /// <summary>
    /// Pointer to at least <paramref name="length"/> floats of <paramref name="slot"/> (a [ThreadStatic] field), reallocating when
    /// too small, aligned to 64 bytes: array data starts 16 bytes into an object, and a packed panel
    /// that is not line-aligned turns every 64-byte load of the micro-kernel into two.
    /// </summary>
    public static float* Get(ref float[]? slot, int length)
    {
        const int AlignFloats = 16;
        if (slot is null || slot.Length < length + AlignFloats)
            slot = GC.AllocateUninitializedArray<float>(Math.Max(length + AlignFloats, 1024), pinned: true);
        var start = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(slot));
        return (float*)(((nuint)start + 63) & ~(nuint)63);
    }
}
