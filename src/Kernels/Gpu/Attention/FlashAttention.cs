using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Flash-style scaled dot-product attention in f32: softmax(scale · q·kᵀ + bias) · v without ever
/// materialising the [queryLength, keyLength] score matrix. A block owns
/// <see cref="QueryRows"/> query rows (4 per warp) kept in shared memory, streams key and value
/// tiles of <see cref="KeyTile"/> rows (one key per lane) through shared memory and keeps a
/// running maximum, a running sum and the output rows in registers (online softmax). The forward
/// saves the log-sum-exp of every row; the backward recomputes the probabilities from it in two
/// kernels (one per key tile for dK and dV, one per query tile for dQ and the score gradient),
/// so no atomics are needed and the gradients are deterministic.
/// Head and value dims up to <see cref="MaxHeadDim"/>; tiles live in dynamic shared memory sized
/// by <see cref="GpuAttention"/> from the actual dims. Bias element (b, i, j) is
/// bias[biasBatchOffsets[b] + i·biasRowStride + j·biasColumnStride] (strides 0 where it
/// broadcasts); an empty bias view means none. A fully masked row gives zeros, a -inf
/// log-sum-exp and no gradient (as the CPU kernel).
/// </summary>
public static class FlashAttention
{
    /// <summary>Threads per block (4 warps).</summary>
    public const int Threads = 128;

    /// <summary>Query rows per block in the forward and dQ kernels (4 per warp).</summary>
    public const int QueryRows = 16;

    /// <summary>Keys per block in the dK/dV kernel (4 per warp).</summary>
    public const int KeyRows = 16;

    /// <summary>Rows of a streamed tile: one per lane.</summary>
    public const int KeyTile = 32;

    public const int RowsPerWarp = 4;

    /// <summary>Largest head or value dim: each lane owns MaxHeadDim / 32 output columns.</summary>
    public const int MaxHeadDim = 128;

    private const int Slots = MaxHeadDim / 32;

    /// <summary>
    /// Overwrites output and logSumExp. Grid (ceil(queryLength / 16), batch), 128 threads,
    /// (16·headDim + 32·(headDim + 1) + 32·valueDim) floats of dynamic shared memory.
    /// </summary>
    [Kernel]
    public static void Forward(
        // [batch, queryLength, headDim]
        DeviceSpan<float> query,
        // [batch, keyLength, headDim]
        DeviceSpan<float> key,
        // [batch, keyLength, valueDim]
        DeviceSpan<float> value,
        // strided bias (empty for none); [batch] offsets into it
        DeviceSpan<float> bias,
        DeviceSpan<int> biasBatchOffsets,
        int biasRowStride,
        int biasColumnStride,
        int queryLength,
        int keyLength,
        int headDim,
        int valueDim,
        float scale,
        int causal,
        // [batch, queryLength, valueDim]
        DeviceSpan<float> output,
        // [batch, queryLength]
        DeviceSpan<float> logSumExp)
    {
        DeviceSpan<float> shared = Shared.Dynamic<float>();
        int keyStride = headDim + 1;   // odd stride: lanes reading different key rows hit different banks
        DeviceSpan<float> queryTile = shared.Slice(0, QueryRows * headDim);
        DeviceSpan<float> keyTile = shared.Slice(QueryRows * headDim, KeyTile * keyStride);
        DeviceSpan<float> valueTile = shared.Slice(QueryRows * headDim + KeyTile * keyStride, KeyTile * valueDim);
        DeviceSpan<float> accumulator = Local.Allocate<float>(RowsPerWarp * Slots);
        DeviceSpan<float> rowMax = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> rowSum = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> scores = Local.Allocate<float>(RowsPerWarp);
        int thread = Grid.ThreadX, lane = Warp.LaneId, warpRow = thread / Warp.Size * RowsPerWarp;
        int batch = Grid.BlockY, row0 = Grid.BlockX * QueryRows;
        bool hasBias = bias.Length > 0;
        int biasBase = hasBias ? biasBatchOffsets[batch] : 0;
        for (int e = thread; e < QueryRows * headDim; e += Threads)
        {
            int r = e / headDim, i = row0 + r;
            queryTile[e] = i < queryLength ? query[(batch * queryLength + i) * headDim + e - r * headDim] : 0f;
        }
        for (int r = 0; r < RowsPerWarp; r++)
        {
            rowMax[r] = float.NegativeInfinity;
            rowSum[r] = 0f;
            for (int s = 0; s < Slots; s++)
                accumulator[r * Slots + s] = 0f;
        }
        // Causal: key j is visible to query i when j <= i, so tiles past the block's last row are skipped.
        int keyEnd = causal != 0 ? Math.Min(keyLength, row0 + QueryRows) : keyLength;
        for (int j0 = 0; j0 < keyEnd; j0 += KeyTile)
        {
            Block.Barrier();   // the previous tiles are consumed (and the query tile is stored)
            LoadTile(key, batch * keyLength + j0, keyLength - j0, headDim, keyStride, keyTile);
            LoadTile(value, batch * keyLength + j0, keyLength - j0, valueDim, valueDim, valueTile);
            Block.Barrier();
            for (int r = 0; r < RowsPerWarp; r++)
                scores[r] = 0f;
            for (int d = 0; d < headDim; d++)
            {
                float k = keyTile[lane * keyStride + d];
                for (int r = 0; r < RowsPerWarp; r++)
                    scores[r] += queryTile[(warpRow + r) * headDim + d] * k;
            }
            int j = j0 + lane;
            for (int r = 0; r < RowsPerWarp; r++)
            {
                int i = row0 + warpRow + r;
                float score = Score(scores[r], scale, i, j, queryLength, keyLength, causal, bias, biasBase, biasRowStride, biasColumnStride);
                float tileMax = score;
                for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
                    tileMax = MathF.Max(tileMax, Warp.ShuffleXor(tileMax, mask));
                float newMax = MathF.Max(rowMax[r], tileMax);
                float p = ExpOrZero(score, newMax);
                float correction = ExpOrZero(rowMax[r], newMax);
                float tileSum = p;
                for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
                    tileSum += Warp.ShuffleXor(tileSum, mask);
                rowSum[r] = rowSum[r] * correction + tileSum;
                rowMax[r] = newMax;
                scores[r] = p;
                for (int s = 0; s < Slots; s++)
                    accumulator[r * Slots + s] *= correction;
            }
            // output rows += P · V: the probability of key jj comes from lane jj. A runtime trip
            // count (the keys of a ragged last tile) keeps this loop rolled: 4 shuffles and 16 FMAs per key.
            int tileKeys = Math.Min(KeyTile, keyLength - j0);
            for (int jj = 0; jj < tileKeys; jj++)
            {
                float p0 = Warp.Shuffle(scores[0], jj), p1 = Warp.Shuffle(scores[1], jj);
                float p2 = Warp.Shuffle(scores[2], jj), p3 = Warp.Shuffle(scores[3], jj);
                for (int s = 0; s < Slots; s++)
                {
                    if (s * Warp.Size < valueDim)   // warp-uniform: no FMAs on the slots beyond the value dim
                    {
                        int c = lane + s * Warp.Size;
                        float v = c < valueDim ? valueTile[jj * valueDim + c] : 0f;
                        accumulator[s] += p0 * v;
                        accumulator[Slots + s] += p1 * v;
                        accumulator[2 * Slots + s] += p2 * v;
                        accumulator[3 * Slots + s] += p3 * v;
                    }
                }
            }
        }
        for (int r = 0; r < RowsPerWarp; r++)
        {
            int i = row0 + warpRow + r;
            if (i >= queryLength)
                continue;
            float sum = rowSum[r];
            float inverse = sum > 0f ? 1f / sum : 0f;
            int outputRow = (batch * queryLength + i) * valueDim;
            for (int s = 0; s < Slots; s++)
            {
                int c = lane + s * Warp.Size;
                if (c < valueDim)
                    output[outputRow + c] = accumulator[r * Slots + s] * inverse;
            }
            if (lane == 0)
                logSumExp[batch * queryLength + i] = sum > 0f ? rowMax[r] + MathF.Log(sum) : float.NegativeInfinity;
        }
    }

    /// <summary>A bool mask (true = attend) as an additive bias: 0 where kept, -inf where masked. Overwrites bias.</summary>
    [Kernel]
    public static void MaskToBias(
        // [count] bool bytes
        DeviceSpan<byte> keep,
        // [count]
        DeviceSpan<float> bias)
    {
        if (Elementwise.Index(bias.Length, out int i))
            bias[i] = keep[i] != 0 ? 0f : float.NegativeInfinity;
    }

    /// <summary>delta[row] = gradOutput[row]·output[row] (the softmax backward's row term). One warp per row; overwrites delta.</summary>
    [Kernel]
    public static void BackwardDelta(
        // [rowCount, valueDim]
        DeviceSpan<float> output,
        DeviceSpan<float> gradOutput,
        int rowCount,
        int valueDim,
        // [rowCount]
        DeviceSpan<float> delta)
    {
        int row = Grid.BlockX * (Grid.BlockDimX / Warp.Size) + Grid.ThreadX / Warp.Size;
        if (row >= rowCount)
            return;
        float sum = 0f;
        for (int c = Warp.LaneId; c < valueDim; c += Warp.Size)
            sum += gradOutput[row * valueDim + c] * output[row * valueDim + c];
        for (int mask = Warp.Size / 2; mask > 0; mask >>= 1)
            sum += Warp.ShuffleXor(sum, mask);
        if (Warp.LaneId == 0)
            delta[row] = sum;
    }

    /// <summary>
    /// gradKey and gradValue of 16 keys per block (overwrites both): streams query tiles of 32
    /// rows (one per lane), recomputes p = exp(score - lse) and dS = p·(dP - delta), and sums
    /// dV += pᵀ·dO and dK += scale·dSᵀ·Q in registers. Grid (ceil(keyLength / 16), batch), 128
    /// threads, (16·headDim + 16·valueDim + 32·(headDim + 1) + 32·(valueDim + 1)) floats of dynamic shared memory.
    /// </summary>
    [Kernel]
    public static void BackwardKeyValue(
        // q, k, v, bias as in Forward
        DeviceSpan<float> query,
        DeviceSpan<float> key,
        DeviceSpan<float> value,
        DeviceSpan<float> bias,
        DeviceSpan<int> biasBatchOffsets,
        int biasRowStride,
        int biasColumnStride,
        // [batch, queryLength] each
        DeviceSpan<float> logSumExp,
        DeviceSpan<float> delta,
        // [batch, queryLength, valueDim]
        DeviceSpan<float> gradOutput,
        int queryLength,
        int keyLength,
        int headDim,
        int valueDim,
        float scale,
        int causal,
        // [batch, keyLength, headDim]
        DeviceSpan<float> gradKey,
        // [batch, keyLength, valueDim]
        DeviceSpan<float> gradValue)
    {
        DeviceSpan<float> shared = Shared.Dynamic<float>();
        int queryStride = headDim + 1, gradStride = valueDim + 1;
        int keyEnd = KeyRows * headDim, valueEnd = keyEnd + KeyRows * valueDim, queryEnd = valueEnd + KeyTile * queryStride;
        DeviceSpan<float> keyTile = shared.Slice(0, KeyRows * headDim);
        DeviceSpan<float> valueTile = shared.Slice(keyEnd, KeyRows * valueDim);
        DeviceSpan<float> queryTile = shared.Slice(valueEnd, KeyTile * queryStride);
        DeviceSpan<float> gradTile = shared.Slice(queryEnd, KeyTile * gradStride);
        DeviceSpan<float> gradKeyAccumulator = Local.Allocate<float>(RowsPerWarp * Slots);
        DeviceSpan<float> gradValueAccumulator = Local.Allocate<float>(RowsPerWarp * Slots);
        DeviceSpan<float> probabilities = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> gradScores = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> laneProbability = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> laneGradScore = Local.Allocate<float>(RowsPerWarp);
        int thread = Grid.ThreadX, lane = Warp.LaneId, warpKey = thread / Warp.Size * RowsPerWarp;
        int batch = Grid.BlockY, key0 = Grid.BlockX * KeyRows;
        bool hasBias = bias.Length > 0;
        int biasBase = hasBias ? biasBatchOffsets[batch] : 0;
        LoadTile(key, batch * keyLength + key0, keyLength - key0, headDim, headDim, keyTile);
        LoadTile(value, batch * keyLength + key0, keyLength - key0, valueDim, valueDim, valueTile);
        for (int a = 0; a < RowsPerWarp * Slots; a++)
        {
            gradKeyAccumulator[a] = 0f;
            gradValueAccumulator[a] = 0f;
        }
        // Causal: query i sees key j only when i >= j, so query tiles before the block's first key are skipped.
        int queryStart = causal != 0 ? key0 / KeyTile * KeyTile : 0;
        for (int i0 = queryStart; i0 < queryLength; i0 += KeyTile)
        {
            Block.Barrier();
            LoadTile(query, batch * queryLength + i0, queryLength - i0, headDim, queryStride, queryTile);
            LoadTile(gradOutput, batch * queryLength + i0, queryLength - i0, valueDim, gradStride, gradTile);
            Block.Barrier();
            int i = i0 + lane;
            bool rowValid = i < queryLength;
            float lse = rowValid ? logSumExp[batch * queryLength + i] : float.NegativeInfinity;
            float rowDelta = rowValid ? delta[batch * queryLength + i] : 0f;
            for (int r = 0; r < RowsPerWarp; r++)
            {
                probabilities[r] = 0f;
                gradScores[r] = 0f;
            }
            for (int d = 0; d < headDim; d++)
            {
                float q = queryTile[lane * queryStride + d];
                for (int r = 0; r < RowsPerWarp; r++)
                    probabilities[r] += q * keyTile[(warpKey + r) * headDim + d];
            }
            for (int c = 0; c < valueDim; c++)
            {
                float g = gradTile[lane * gradStride + c];
                for (int r = 0; r < RowsPerWarp; r++)
                    gradScores[r] += g * valueTile[(warpKey + r) * valueDim + c];
            }
            for (int r = 0; r < RowsPerWarp; r++)
            {
                int j = key0 + warpKey + r;
                float score = Score(probabilities[r], scale, i, j, queryLength, keyLength, causal, bias, biasBase, biasRowStride, biasColumnStride);
                float p = rowValid ? ExpOrZero(score, lse) : 0f;
                probabilities[r] = p;
                gradScores[r] = p * (gradScores[r] - rowDelta);
            }
            int tileRows = Math.Min(KeyTile, queryLength - i0);
            for (int jj = 0; jj < tileRows; jj++)
            {
                for (int r = 0; r < RowsPerWarp; r++)
                {
                    laneProbability[r] = Warp.Shuffle(probabilities[r], jj);
                    laneGradScore[r] = Warp.Shuffle(gradScores[r], jj);
                }
                for (int s = 0; s < Slots; s++)
                {
                    int c = lane + s * Warp.Size;
                    if (s * Warp.Size < valueDim)   // warp-uniform tests: no FMAs on slots beyond the dims
                    {
                        float g = c < valueDim ? gradTile[jj * gradStride + c] : 0f;
                        for (int r = 0; r < RowsPerWarp; r++)
                            gradValueAccumulator[r * Slots + s] += laneProbability[r] * g;
                    }
                    if (s * Warp.Size < headDim)
                    {
                        float q = c < headDim ? queryTile[jj * queryStride + c] : 0f;
                        for (int r = 0; r < RowsPerWarp; r++)
                            gradKeyAccumulator[r * Slots + s] += laneGradScore[r] * q;
                    }
                }
            }
        }
        for (int r = 0; r < RowsPerWarp; r++)
        {
            int j = key0 + warpKey + r;
            if (j >= keyLength)
                continue;
            for (int s = 0; s < Slots; s++)
            {
                int c = lane + s * Warp.Size;
                if (c < headDim)
                    gradKey[(batch * keyLength + j) * headDim + c] = gradKeyAccumulator[r * Slots + s] * scale;
                if (c < valueDim)
                    gradValue[(batch * keyLength + j) * valueDim + c] = gradValueAccumulator[r * Slots + s];
            }
        }
    }

    /// <summary>
    /// gradQuery of 16 query rows per block (overwrites) and, when gradBias is not empty, the
    /// gradient of an additive bias: the score gradient dS = p·(dP - delta) is added atomically
    /// through the bias's broadcast strides (gradBias element (b, i, j) at
    /// gradBiasBatchOffsets[b] + i·gradBiasRowStride + j·gradBiasColumnStride), which sums over the
    /// broadcast dims without materialising [batch, queryLength, keyLength]; accumulates (zero it
    /// first; only with causal = 0). Grid (ceil(queryLength / 16), batch), 128 threads,
    /// (16·headDim + 16·valueDim + 32·(headDim + 1) + 32·(valueDim + 1)) floats of dynamic shared memory.
    /// </summary>
    [Kernel]
    public static void BackwardQuery(
        // q, k, v, bias, logSumExp, delta, gradOutput as in BackwardKeyValue
        DeviceSpan<float> query,
        DeviceSpan<float> key,
        DeviceSpan<float> value,
        DeviceSpan<float> bias,
        DeviceSpan<int> biasBatchOffsets,
        int biasRowStride,
        int biasColumnStride,
        DeviceSpan<float> logSumExp,
        DeviceSpan<float> delta,
        DeviceSpan<float> gradOutput,
        int queryLength,
        int keyLength,
        int headDim,
        int valueDim,
        float scale,
        int causal,
        // [batch, queryLength, headDim]
        DeviceSpan<float> gradQuery,
        // strided like the bias (empty for none); [batch] offsets into it
        DeviceSpan<float> gradBias,
        DeviceSpan<int> gradBiasBatchOffsets,
        int gradBiasRowStride,
        int gradBiasColumnStride)
    {
        DeviceSpan<float> shared = Shared.Dynamic<float>();
        int keyStride = headDim + 1, valueStride = valueDim + 1;
        int queryEnd = QueryRows * headDim, gradEnd = queryEnd + QueryRows * valueDim, keyEnd = gradEnd + KeyTile * keyStride;
        DeviceSpan<float> queryTile = shared.Slice(0, QueryRows * headDim);
        DeviceSpan<float> gradTile = shared.Slice(queryEnd, QueryRows * valueDim);
        DeviceSpan<float> keyTile = shared.Slice(gradEnd, KeyTile * keyStride);
        DeviceSpan<float> valueTile = shared.Slice(keyEnd, KeyTile * valueStride);
        DeviceSpan<float> accumulator = Local.Allocate<float>(RowsPerWarp * Slots);
        DeviceSpan<float> probabilities = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> rowGrad = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> lse = Local.Allocate<float>(RowsPerWarp);
        DeviceSpan<float> rowDelta = Local.Allocate<float>(RowsPerWarp);
        int thread = Grid.ThreadX, lane = Warp.LaneId, warpRow = thread / Warp.Size * RowsPerWarp;
        int batch = Grid.BlockY, row0 = Grid.BlockX * QueryRows;
        bool hasBias = bias.Length > 0, wantBias = gradBias.Length > 0;
        int biasBase = hasBias ? biasBatchOffsets[batch] : 0;
        int gradBiasBase = wantBias ? gradBiasBatchOffsets[batch] : 0;
        LoadTile(query, batch * queryLength + row0, queryLength - row0, headDim, headDim, queryTile);
        LoadTile(gradOutput, batch * queryLength + row0, queryLength - row0, valueDim, valueDim, gradTile);
        for (int r = 0; r < RowsPerWarp; r++)
        {
            int i = row0 + warpRow + r;
            lse[r] = i < queryLength ? logSumExp[batch * queryLength + i] : float.NegativeInfinity;
            rowDelta[r] = i < queryLength ? delta[batch * queryLength + i] : 0f;
            for (int s = 0; s < Slots; s++)
                accumulator[r * Slots + s] = 0f;
        }
        int keyEndIndex = causal != 0 ? Math.Min(keyLength, row0 + QueryRows) : keyLength;
        for (int j0 = 0; j0 < keyEndIndex; j0 += KeyTile)
        {
            Block.Barrier();
            LoadTile(key, batch * keyLength + j0, keyLength - j0, headDim, keyStride, keyTile);
            LoadTile(value, batch * keyLength + j0, keyLength - j0, valueDim, valueStride, valueTile);
            Block.Barrier();
            for (int r = 0; r < RowsPerWarp; r++)
            {
                probabilities[r] = 0f;
                rowGrad[r] = 0f;
            }
            for (int d = 0; d < headDim; d++)
            {
                float k = keyTile[lane * keyStride + d];
                for (int r = 0; r < RowsPerWarp; r++)
                    probabilities[r] += queryTile[(warpRow + r) * headDim + d] * k;
            }
            for (int c = 0; c < valueDim; c++)
            {
                float v = valueTile[lane * valueStride + c];
                for (int r = 0; r < RowsPerWarp; r++)
                    rowGrad[r] += gradTile[(warpRow + r) * valueDim + c] * v;
            }
            int j = j0 + lane;
            for (int r = 0; r < RowsPerWarp; r++)
            {
                int i = row0 + warpRow + r;
                float score = Score(probabilities[r], scale, i, j, queryLength, keyLength, causal, bias, biasBase, biasRowStride, biasColumnStride);
                float p = i < queryLength ? ExpOrZero(score, lse[r]) : 0f;
                float ds = p * (rowGrad[r] - rowDelta[r]);
                rowGrad[r] = ds;
                if (wantBias && i < queryLength && j < keyLength)
                    Atomic.Add(ref gradBias[gradBiasBase + i * gradBiasRowStride + j * gradBiasColumnStride], ds);
            }
            int tileKeys = Math.Min(KeyTile, keyLength - j0);
            for (int jj = 0; jj < tileKeys; jj++)
            {
                float d0 = Warp.Shuffle(rowGrad[0], jj), d1 = Warp.Shuffle(rowGrad[1], jj);
                float d2 = Warp.Shuffle(rowGrad[2], jj), d3 = Warp.Shuffle(rowGrad[3], jj);
                for (int s = 0; s < Slots; s++)
                {
                    if (s * Warp.Size < headDim)
                    {
                        int c = lane + s * Warp.Size;
                        float k = c < headDim ? keyTile[jj * keyStride + c] : 0f;
                        accumulator[s] += d0 * k;
                        accumulator[Slots + s] += d1 * k;
                        accumulator[2 * Slots + s] += d2 * k;
                        accumulator[3 * Slots + s] += d3 * k;
                    }
                }
            }
        }
        for (int r = 0; r < RowsPerWarp; r++)
        {
            int i = row0 + warpRow + r;
            if (i >= queryLength)
                continue;
            for (int s = 0; s < Slots; s++)
            {
                int c = lane + s * Warp.Size;
                if (c < headDim)
                    gradQuery[(batch * queryLength + i) * headDim + c] = accumulator[r * Slots + s] * scale;
            }
        }
    }

    /// <summary>
    /// Copies up to tile.Length / stride rows of width columns starting at row firstRow of source
    /// into tile with row stride stride (rows past available are zero). Every thread of the block takes part.
    /// </summary>
    private static void LoadTile(DeviceSpan<float> source, int firstRow, int available, int width, int stride, DeviceSpan<float> tile)
    {
        int rows = tile.Length / stride;
        for (int e = Grid.ThreadX; e < rows * width; e += Threads)
        {
            int r = e / width, c = e - r * width;
            tile[r * stride + c] = r < available ? source[(firstRow + r) * width + c] : 0f;
        }
    }

    /// <summary>scale·dot + bias(i, j), or -inf when query i or key j does not exist or key j is hidden from query i by the causal mask.</summary>
    private static float Score(float dot, float scale, int i, int j, int queryLength, int keyLength, int causal,
        DeviceSpan<float> bias, int biasBase, int biasRowStride, int biasColumnStride)
    {
        if (i >= queryLength || j >= keyLength || (causal != 0 && j > i))
            return float.NegativeInfinity;
        float score = dot * scale;
        if (bias.Length > 0)
            score += bias[biasBase + i * biasRowStride + j * biasColumnStride];
        return score;
    }

    /// <summary>exp(x - shift), exactly 0 when x is -inf (also when shift is -inf: a row with nothing visible yet).</summary>
    private static float ExpOrZero(float x, float shift) =>
        x == float.NegativeInfinity ? 0f : MathF.Exp(x - shift);
}
