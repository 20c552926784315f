using Tessera.Engine.Memory;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// Fused scaled dot-product attention: softmax(scale * q·kᵀ + bias) · v, one (batch, query block)
/// at a time, so only a [queryBlock, keyLength] score tile is ever materialised; k and v are read
/// transposed by the GEMM's packing, never copied. The forward
/// saves the log-sum-exp of every score row; the backward recomputes the probabilities from it.
/// A row whose scores are all -inf (fully masked) yields a zero output, a -inf log-sum-exp and
/// no gradient (PyTorch's explicit formula would give NaN there).
/// </summary>
public static unsafe class Attention
{
    /// <summary>Query rows per task: large enough that packing k and v is amortised over many rows, small enough to spread over threads.</summary>
    public const int QueryBlock = 128;

    /// <summary>
    /// An additive bias read through strides: element (b, i, j) is
    /// Data[BatchOffsets[b] + i * RowStride + j * ColumnStride] (strides 0 where it broadcasts).
    /// </summary>
    public readonly struct Bias(float* data, long[] batchOffsets, int rowStride, int columnStride)
    {
        public readonly float* Data = data;
        public readonly long[] BatchOffsets = batchOffsets;
        public readonly int RowStride = rowStride;
        public readonly int ColumnStride = columnStride;
    }

    /// <summary>
    /// Where the rows of one operand lie: batch b = (outer, head) = (b / Heads, b % Heads) starts at
    /// Data + outer · OuterStride + head · HeadStride, and its rows are RowStride floats apart. Dense
    /// [batch, length, dim] is <see cref="Dense"/>; the q, k and v of a packed projection
    /// [B, N, 3·heads·dim] are three strided views of it (heads side by side in each row), and a
    /// merged-heads output [B, N, heads·dim] is another: no copies to split or merge heads.
    /// </summary>
    public readonly struct Rows(float* data, long outerStride, long headStride, int heads, int rowStride)
    {
        public readonly float* Data = data;
        public readonly long OuterStride = outerStride;
        public readonly long HeadStride = headStride;
        public readonly int Heads = heads;
        public readonly int RowStride = rowStride;

        /// <summary>A dense [batch, length, dim] operand.</summary>
        public static Rows Dense(float* data, int length, int dim) => new(data, (long)length * dim, 0, 1, dim);

        /// <summary>First row of batch b.</summary>
        public float* Batch(int b) => Data + b / Heads * OuterStride + b % Heads * HeadStride;
    }

    /// <summary>Overwrites output and logSumExp.</summary>
    /// <param name="bias">Null for none.</param>
    // q [batch, queryLength, headDim], k [batch, keyLength, headDim], v [batch, keyLength, valueDim]
    // output [batch, queryLength, valueDim], logSumExp [batch, queryLength]
    public static void Forward(float* q, float* k, float* v, Bias? bias,
        int batchCount, int queryLength, int keyLength, int headDim, int valueDim, float scale, bool causal,
        float* output, float* logSumExp) =>
        Forward(Rows.Dense(q, queryLength, headDim), Rows.Dense(k, keyLength, headDim), Rows.Dense(v, keyLength, valueDim), bias,
            batchCount, queryLength, keyLength, headDim, valueDim, scale, causal, Rows.Dense(output, queryLength, valueDim), logSumExp);

    /// <summary>Forward with every operand placed by a <see cref="Rows"/> layout (logSumExp dense [batch, queryLength]).</summary>
    public static void Forward(Rows q, Rows k, Rows v, Bias? bias,
        int batchCount, int queryLength, int keyLength, int headDim, int valueDim, float scale, bool causal,
        Rows output, float* logSumExp)
    {
        int blocksPerBatch = (queryLength + QueryBlock - 1) / QueryBlock;
        long cost = 2L * QueryBlock * keyLength * (headDim + valueDim) + 1;
        CpuParallel.ForCost(batchCount * blocksPerBatch, cost, (from, to) =>
        {
            using var serial = CpuParallel.SerialScope();
            using var scores = CpuMemoryPool.RentFloats((long)QueryBlock * keyLength);
            {
                float* tile = scores.Floats;
                for (int task = from; task < to; task++)
                {
                    int b = task / blocksPerBatch, i0 = task % blocksPerBatch * QueryBlock;
                    int rows = Math.Min(QueryBlock, queryLength - i0);
                    Scores(q.Batch(b) + (long)i0 * q.RowStride, q.RowStride, k.Batch(b), k.RowStride, bias, b, i0, rows, keyLength, headDim, scale, causal, tile);
                    float* lse = logSumExp + (long)b * queryLength + i0;
                    for (int r = 0; r < rows; r++)
                        lse[r] = SoftmaxRow(tile + (long)r * keyLength, keyLength);
                    Gemm.Run(false, false, rows, valueDim, keyLength, 1f, tile, keyLength, v.Batch(b), v.RowStride, 0f,
                        output.Batch(b) + (long)i0 * output.RowStride, output.RowStride);
                }
            }
        });
    }

    /// <summary>
    /// Overwrites gradQuery, gradKey, gradValue and, when not null, gradScores (the gradient of the
    /// pre-softmax scores, which is also the gradient of an additive bias before broadcasting is undone).
    /// </summary>
    // q, k, v, output, logSumExp as in Forward; gradOutput [batch, queryLength, valueDim]
    // gradQuery [batch, queryLength, headDim], gradKey [batch, keyLength, headDim], gradValue [batch, keyLength, valueDim]
    // gradScores [batch, queryLength, keyLength] or null
    public static void Backward(float* q, float* k, float* v, Bias? bias, float* output, float* logSumExp, float* gradOutput,
        int batchCount, int queryLength, int keyLength, int headDim, int valueDim, float scale, bool causal,
        float* gradQuery, float* gradKey, float* gradValue, float* gradScores) =>
        Backward(Rows.Dense(q, queryLength, headDim), Rows.Dense(k, keyLength, headDim), Rows.Dense(v, keyLength, valueDim), bias,
            Rows.Dense(output, queryLength, valueDim), logSumExp, Rows.Dense(gradOutput, queryLength, valueDim),
            batchCount, queryLength, keyLength, headDim, valueDim, scale, causal,
            Rows.Dense(gradQuery, queryLength, headDim), Rows.Dense(gradKey, keyLength, headDim), Rows.Dense(gradValue, keyLength, valueDim), gradScores);

    /// <summary>Backward with every operand placed by a <see cref="Rows"/> layout (logSumExp and gradScores dense).</summary>
    public static void Backward(Rows q, Rows k, Rows v, Bias? bias, Rows output, float* logSumExp, Rows gradOutput,
        int batchCount, int queryLength, int keyLength, int headDim, int valueDim, float scale, bool causal,
        Rows gradQuery, Rows gradKey, Rows gradValue, float* gradScores)
    {
        void OneBatch(int b, float* probabilities, float* gradTile)
        {
            float* kb = k.Batch(b), vb = v.Batch(b), ob = output.Batch(b), qb = q.Batch(b), gob = gradOutput.Batch(b);
            float* gradKeyBatch = gradKey.Batch(b), gradValueBatch = gradValue.Batch(b), gradQueryBatch = gradQuery.Batch(b);
            for (int j = 0; j < keyLength; j++)
            {
                new Span<float>(gradKeyBatch + (long)j * gradKey.RowStride, headDim).Clear();
                new Span<float>(gradValueBatch + (long)j * gradValue.RowStride, valueDim).Clear();
            }
            for (int i0 = 0; i0 < queryLength; i0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, queryLength - i0);
                long row0 = (long)b * queryLength + i0;
                float* qBlock = qb + (long)i0 * q.RowStride, gradOutputBlock = gob + (long)i0 * gradOutput.RowStride;
                Scores(qBlock, q.RowStride, kb, k.RowStride, bias, b, i0, rows, keyLength, headDim, scale, causal, probabilities);
                // gradTile = gradOutput · vᵀ (the gradient of the probabilities), then the softmax backward in place.
                Gemm.Run(false, true, rows, keyLength, valueDim, 1f, gradOutputBlock, gradOutput.RowStride, vb, v.RowStride, 0f, gradTile, keyLength);
                for (int r = 0; r < rows; r++)
                {
                    float* p = probabilities + (long)r * keyLength, gs = gradTile + (long)r * keyLength;
                    float* gradOutputRow = gradOutputBlock + (long)r * gradOutput.RowStride;
                    float lse = logSumExp[row0 + r];
                    float delta = TensorPrimitives.Dot(new ReadOnlySpan<float>(gradOutputRow, valueDim), new ReadOnlySpan<float>(ob + (long)(i0 + r) * output.RowStride, valueDim));
                    var probabilityRow = new Span<float>(p, keyLength);
                    var gradRow = new Span<float>(gs, keyLength);
                    if (float.IsNegativeInfinity(lse))
                    {
                        probabilityRow.Clear();
                        gradRow.Clear();
                        continue;
                    }
                    // p = exp(score - lse); gradScore = p * (gradP - delta) (masked entries have p = 0 and so get 0)
                    FastExp.ExpShiftedSum(p, keyLength, lse);
                    TensorPrimitives.Subtract(gradRow, delta, gradRow);
                    TensorPrimitives.Multiply(gradRow, probabilityRow, gradRow);
                }
                if (gradScores != null)
                    new Span<float>(gradTile, rows * keyLength).CopyTo(new Span<float>(gradScores + row0 * keyLength, rows * keyLength));
                Gemm.Run(false, false, rows, headDim, keyLength, scale, gradTile, keyLength, kb, k.RowStride, 0f, gradQueryBatch + (long)i0 * gradQuery.RowStride, gradQuery.RowStride);
                Gemm.Run(true, false, keyLength, headDim, rows, scale, gradTile, keyLength, qBlock, q.RowStride, 1f, gradKeyBatch, gradKey.RowStride);
                Gemm.Run(true, false, keyLength, valueDim, rows, 1f, probabilities, keyLength, gradOutputBlock, gradOutput.RowStride, 1f, gradValueBatch, gradValue.RowStride);
            }
        }

        void Range(int from, int to)
        {
            using var tiles = CpuMemoryPool.RentFloats(2L * QueryBlock * keyLength);
            {
                float* tile = tiles.Floats;
                for (int b = from; b < to; b++)
                    OneBatch(b, tile, tile + QueryBlock * keyLength);
            }
        }

        // gradKey and gradValue of a batch collect every query block, so a batch is one task;
        // with fewer batches than threads the GEMMs inside go parallel instead.
        if (batchCount > 1 && batchCount >= CpuParallel.MaxThreads)
        {
            CpuParallel.For(batchCount, 1, (from, to) =>
            {
                using var serial = CpuParallel.SerialScope();
                Range(from, to);
            });
        }
        else
        {
            Range(0, batchCount);
        }
    }

    /// <summary>tile[r, j] = scale * q[i0 + r]·k[j] + bias(b, i0 + r, j), or -inf above the diagonal when causal.</summary>
    // qBlock [rows, headDim] (rows qStride apart), keys [keyLength, headDim] (rows keyStride apart, read transposed by the GEMM), tile [rows, keyLength]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores(float* qBlock, int qStride, float* keys, int keyStride, Bias? bias, int b, int i0, int rows, int keyLength, int headDim,
        float scale, bool causal, float* tile)
    {
        Gemm.Run(false, true, rows, keyLength, headDim, scale, qBlock, qStride, keys, keyStride, 0f, tile, keyLength);
        for (int r = 0; r < rows; r++)
        {
            float* row = tile + (long)r * keyLength;
            int visible = causal ? Math.Min(keyLength, i0 + r + 1) : keyLength;
            for (int j = visible; j < keyLength; j++)
                row[j] = float.NegativeInfinity;
            if (bias is { } add)
            {
                float* biasRow = add.Data + add.BatchOffsets[b] + (long)(i0 + r) * add.RowStride;
                for (int j = 0; j < visible; j++)
                    row[j] += biasRow[(long)j * add.ColumnStride];
            }
        }
    }

    /// <summary>Turns a score row into probabilities in place and returns its log-sum-exp (-inf and zeros when fully masked).</summary>
    private static float SoftmaxRow(float* row, int length)
    {
        var span = new Span<float>(row, length);
        float max = length == 0 ? float.NegativeInfinity : TensorPrimitives.Max(span);
        if (float.IsNegativeInfinity(max))
        {
            span.Clear();
            return float.NegativeInfinity;
        }
        double sum = FastExp.ExpShiftedSum(row, length, max);
        TensorPrimitives.Multiply(span, (float)(1.0 / sum), span);
        return max + (float)Math.Log(sum);
    }
}
