using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Engine.Memory;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// RoIAlign vectorised over channels (RoiAlignChannelsLast). The bilinear sample positions and
/// weights depend on the RoI, not the channel, so the input is transposed once to channels-last
/// (16×16 register blocks) and every tap becomes a multiply-add of contiguous channel vectors. The
/// forward keeps the sums of 64 channels in registers across a bin's samples and writes each RoI's
/// result back to NCHW through 16×16 register transposes. Same arithmetic order per channel as
/// <see cref="RoiAlign"/> (the plain reference), so results are bit-identical.
/// </summary>
public static unsafe class RoiAlignChannelsLast
{
    /// <summary>Same contract as <see cref="RoiAlign.Forward"/>. Overwrites output.</summary>
    // input [batch, channels, height, width], boxes [roiCount, 5]; output [roiCount, channels, outputHeight, outputWidth]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* input, float* boxes, int batchCount, int channelCount, int height, int width, int roiCount,
        int outputHeight, int outputWidth, float spatialScale, int samplingRatio, bool aligned, float* output)
    {
        int plane = height * width, bins = outputHeight * outputWidth, channels = channelCount;
        using var workspace = CpuMemoryPool.RentFloats((long)batchCount * plane * channels);
        // [batch, height * width, channels]
        float* source = workspace.Floats;
        ToChannelsLast(input, batchCount, channels, plane, source);
        CpuParallel.ForCost(roiCount, 16L * channels * bins + 1, (from, to) =>
        {
            var table = Array.Empty<RoiAlign.Sample>();
            // [bins, 64]: four channel blocks of one RoI, written back to NCHW as 64 contiguous rows of bins
            var tile = new float[bins * 64];
            for (int n = from; n < to; n++)
            {
                var roi = new RoiAlign.Roi(boxes + n * 5L, spatialScale, outputHeight, outputWidth, samplingRatio, aligned);
                int perBin = RoiAlign.Prepare(roi, height, width, outputHeight, outputWidth, ref table);
                float* image = source + (long)roi.Batch * plane * channels;
                float* result = output + (long)n * channels * bins;
                fixed (RoiAlign.Sample* samples = table)
                fixed (float* t = tile)
                {
                    int c = 0;
                    if (Vector512.IsHardwareAccelerated)
                    {
                        for (; c <= channels - 64; c += 64)
                        {
                            PoolBlocks4(image + c, channels, samples, perBin, bins, roi.Count, t);
                            for (int k = 0; k < 4; k++)
                                WriteBlock(t + 16 * k, 64, bins, result + (long)(c + 16 * k) * bins);
                        }
                        for (; c <= channels - 16; c += 16)
                        {
                            PoolBlock(image + c, channels, samples, perBin, bins, roi.Count, t);
                            WriteBlock(t, 16, bins, result + (long)c * bins);
                        }
                    }
                    for (; c < channels; c++)
                        PoolChannel(image + c, channels, samples, perBin, bins, roi.Count, result + (long)c * bins);
                }
            }
        });
    }

    /// <summary>
    /// The bins of 16 channels, the running sum in one register: term = w00·v00 + w01·v01 + w10·v10 + w11·v11
    /// left to right, no FMA, then sum += term (the reference's order, bit for bit). Overwrites tile [bins, 16].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PoolBlock(float* image, int channels, RoiAlign.Sample* samples, int perBin, int bins, float count, float* tile)
    {
        var divisor = Vector512.Create(count);
        for (int bin = 0, at = 0; bin < bins; bin++)
        {
            var sum = Vector512<float>.Zero;
            for (int i = 0; i < perBin; i++, at++)
            {
                RoiAlign.Sample* s = samples + at;
                var term = Vector512.Create(s->Weight00) * Vector512.Load(image + (long)s->Offset00 * channels)
                    + Vector512.Create(s->Weight01) * Vector512.Load(image + (long)s->Offset01 * channels);
                term += Vector512.Create(s->Weight10) * Vector512.Load(image + (long)s->Offset10 * channels);
                term += Vector512.Create(s->Weight11) * Vector512.Load(image + (long)s->Offset11 * channels);
                sum += term;
            }
            (sum / divisor).Store(tile + bin * 16);
        }
    }

    /// <summary>
    /// <see cref="PoolBlock"/> for 64 channels at once (four sums in registers): each tap reads 256
    /// contiguous bytes, which the prefetcher streams. Overwrites tile [bins, 64].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PoolBlocks4(float* image, int channels, RoiAlign.Sample* samples, int perBin, int bins, float count, float* tile)
    {
        var divisor = Vector512.Create(count);
        for (int bin = 0, at = 0; bin < bins; bin++)
        {
            Vector512<float> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
            for (int i = 0; i < perBin; i++, at++)
            {
                RoiAlign.Sample* s = samples + at;
                float* p00 = image + (long)s->Offset00 * channels, p01 = image + (long)s->Offset01 * channels;
                float* p10 = image + (long)s->Offset10 * channels, p11 = image + (long)s->Offset11 * channels;
                var w00 = Vector512.Create(s->Weight00);
                var w01 = Vector512.Create(s->Weight01);
                var w10 = Vector512.Create(s->Weight10);
                var w11 = Vector512.Create(s->Weight11);
                sum0 += w00 * Vector512.Load(p00) + w01 * Vector512.Load(p01) + w10 * Vector512.Load(p10) + w11 * Vector512.Load(p11);
                sum1 += w00 * Vector512.Load(p00 + 16) + w01 * Vector512.Load(p01 + 16) + w10 * Vector512.Load(p10 + 16) + w11 * Vector512.Load(p11 + 16);
                sum2 += w00 * Vector512.Load(p00 + 32) + w01 * Vector512.Load(p01 + 32) + w10 * Vector512.Load(p10 + 32) + w11 * Vector512.Load(p11 + 32);
                sum3 += w00 * Vector512.Load(p00 + 48) + w01 * Vector512.Load(p01 + 48) + w10 * Vector512.Load(p10 + 48) + w11 * Vector512.Load(p11 + 48);
            }
            float* row = tile + bin * 64;
            (sum0 / divisor).Store(row);
            (sum1 / divisor).Store(row + 16);
            (sum2 / divisor).Store(row + 32);
            (sum3 / divisor).Store(row + 48);
        }
    }

    /// <summary>tile [bins, 16] (rows tileStride apart) → rows [16, bins] (rows of the NCHW output), 16 bins at a time through registers. Overwrites rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteBlock(float* tile, int tileStride, int bins, float* rows)
    {
        int bin = 0;
        if (Avx512F.IsSupported)
            for (; bin <= bins - 16; bin += 16)
                Transpose16(tile + bin * tileStride, tileStride, rows + bin, bins);
        for (; bin < bins; bin++)
            for (int j = 0; j < 16; j++)
                rows[j * bins + bin] = tile[bin * tileStride + j];
    }

    /// <summary>
    /// A 16×16 float transpose in registers (unpack ps, unpack pd, two 128-bit lane shuffles): row i of
    /// source (at source + i·sourceStride) becomes column i of destination. Overwrites 16 rows of destination.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(float* source, int sourceStride, float* destination, int destinationStride)
    {
        var r = stackalloc Vector512<float>[16];
        var t = stackalloc Vector512<float>[16];
        for (int i = 0; i < 16; i++)
            r[i] = Vector512.Load(source + i * sourceStride);
        for (int i = 0; i < 16; i += 2)
        {
            t[i] = Avx512F.UnpackLow(r[i], r[i + 1]);
            t[i + 1] = Avx512F.UnpackHigh(r[i], r[i + 1]);
        }
        // r[4g + m], 128-bit lane L: column 4L + m of rows 4g..4g+3
        for (int i = 0; i < 16; i += 4)
        {
            r[i] = Avx512F.UnpackLow(t[i].AsDouble(), t[i + 2].AsDouble()).AsSingle();
            r[i + 1] = Avx512F.UnpackHigh(t[i].AsDouble(), t[i + 2].AsDouble()).AsSingle();
            r[i + 2] = Avx512F.UnpackLow(t[i + 1].AsDouble(), t[i + 3].AsDouble()).AsSingle();
            r[i + 3] = Avx512F.UnpackHigh(t[i + 1].AsDouble(), t[i + 3].AsDouble()).AsSingle();
        }
        for (int h = 0; h < 16; h += 8)
            for (int i = 0; i < 4; i++)
            {
                t[h + i] = Avx512F.Shuffle4x128(r[h + i], r[h + i + 4], 0x88);
                t[h + i + 4] = Avx512F.Shuffle4x128(r[h + i], r[h + i + 4], 0xdd);
            }
        for (int i = 0; i < 8; i++)
        {
            Avx512F.Shuffle4x128(t[i], t[i + 8], 0x88).Store(destination + i * destinationStride);
            Avx512F.Shuffle4x128(t[i], t[i + 8], 0xdd).Store(destination + (i + 8) * destinationStride);
        }
    }

    /// <summary>One channel's bins (channels that do not fill a 16-wide block), same order as <see cref="PoolBlock"/>. Overwrites result [bins].</summary>
    private static void PoolChannel(float* image, int channels, RoiAlign.Sample* samples, int perBin, int bins, float count, float* result)
    {
        for (int bin = 0, at = 0; bin < bins; bin++)
        {
            float sum = 0f;
            for (int i = 0; i < perBin; i++, at++)
            {
                RoiAlign.Sample* s = samples + at;
                sum += s->Weight00 * image[(long)s->Offset00 * channels] + s->Weight01 * image[(long)s->Offset01 * channels]
                    + s->Weight10 * image[(long)s->Offset10 * channels] + s->Weight11 * image[(long)s->Offset11 * channels];
            }
            result[bin] = sum / count;
        }
    }

    /// <summary>
    /// Same contract as <see cref="RoiAlign.Backward"/>. Overwrites gradInput. Threads own disjoint
    /// channel ranges and visit RoIs in order, so sums do not depend on the thread count.
    /// </summary>
    // gradOutput [roiCount, channels, outputHeight, outputWidth]; gradInput [batch, channels, height, width]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* gradOutput, float* boxes, int batchCount, int channelCount, int height, int width, int roiCount,
        int outputHeight, int outputWidth, float spatialScale, int samplingRatio, bool aligned, float* gradInput)
    {
        int plane = height * width, bins = outputHeight * outputWidth, channels = channelCount;
        var gradOutputLast = GC.AllocateUninitializedArray<float>(Math.Max(roiCount * bins * channels, 1), pinned: true);
        var gradLast = new float[Math.Max(batchCount * plane * channels, 1)];
        var rois = new RoiAlign.Roi[roiCount];
        for (int n = 0; n < roiCount; n++)
            rois[n] = new RoiAlign.Roi(boxes + n * 5L, spatialScale, outputHeight, outputWidth, samplingRatio, aligned);
        fixed (float* gOut = gradOutputLast, gIn = gradLast)
        {
            float* gradOutputNhwc = gOut, gradNhwc = gIn;
            ToChannelsLast(gradOutput, roiCount, channels, bins, gradOutputNhwc);
            // Channel blocks of 16 (one AVX-512 vector) so each thread's writes stay in its own lanes.
            int blocks = (channels + 15) / 16;
            CpuParallel.ForCost(blocks, 64L * roiCount * bins + 1, (from, to) =>
            {
                int c0 = from * 16, c1 = Math.Min(channels, to * 16), span = c1 - c0;
                var table = Array.Empty<RoiAlign.Sample>();
                for (int n = 0; n < roiCount; n++)
                {
                    var roi = rois[n];
                    int perBin = RoiAlign.Prepare(roi, height, width, outputHeight, outputWidth, ref table);
                    float* image = gradNhwc + (long)roi.Batch * plane * channels + c0;
                    int at = 0;
                    for (int bin = 0; bin < bins; bin++)
                    {
                        var g = new ReadOnlySpan<float>(gradOutputNhwc + ((long)n * bins + bin) * channels + c0, span);
                        for (int i = 0; i < perBin; i++, at++)
                        {
                            ref readonly var s = ref table[at];
                            if (!s.Inside) continue;
                            ScatterTap(g, s.Weight00, roi.Count, image + (long)s.Offset00 * channels);
                            ScatterTap(g, s.Weight01, roi.Count, image + (long)s.Offset01 * channels);
                            ScatterTap(g, s.Weight10, roi.Count, image + (long)s.Offset10 * channels);
                            ScatterTap(g, s.Weight11, roi.Count, image + (long)s.Offset11 * channels);
                        }
                    }
                }
            });
            FromChannelsLast(gradNhwc, batchCount, channels, plane, gradInput);
        }
    }

    /// <summary>target[c] += g[c] · weight / count (the reference's order of operations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScatterTap(ReadOnlySpan<float> g, float weight, float count, float* target)
    {
        int c = 0, n = g.Length;
        fixed (float* gp = g)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var w = Vector512.Create(weight);
                var k = Vector512.Create(count);
                for (; c <= n - 16; c += 16)
                    (Vector512.Load(target + c) + Vector512.Load(gp + c) * w / k).Store(target + c);
            }
            for (; c < n; c++)
                target[c] += gp[c] * weight / count;
        }
    }

    /// <summary>[outer, channels, plane] → [outer, plane, channels]. Overwrites destination.</summary>
    private static void ToChannelsLast(float* source, int outer, int channels, int plane, float* destination) =>
        Transpose(source, outer, channels, plane, destination);

    /// <summary>[outer, plane, channels] → [outer, channels, plane]. Overwrites destination.</summary>
    private static void FromChannelsLast(float* source, int outer, int channels, int plane, float* destination) =>
        Transpose(source, outer, plane, channels, destination);

    /// <summary>Rows and columns per transpose task: one task's source and destination lines stay in L1.</summary>
    private const int TransposeTile = 64;

    /// <summary>[outer, rows, columns] → [outer, columns, rows], 16×16 blocks through registers, parallel over 64×64 tiles. Overwrites destination.</summary>
    private static void Transpose(float* source, int outer, int rows, int columns, float* destination)
    {
        int rowTiles = (rows + TransposeTile - 1) / TransposeTile, columnTiles = (columns + TransposeTile - 1) / TransposeTile;
        int tiles = rowTiles * columnTiles;
        CpuParallel.ForCost(outer * tiles, (long)TransposeTile * TransposeTile, (from, to) =>
        {
            for (int task = from; task < to; task++)
            {
                int o = task / tiles, r0 = task % tiles / columnTiles * TransposeTile, c0 = task % columnTiles * TransposeTile;
                int r1 = Math.Min(rows, r0 + TransposeTile), c1 = Math.Min(columns, c0 + TransposeTile);
                float* src = source + (long)o * rows * columns, dst = destination + (long)o * rows * columns;
                int r = r0;
                if (Avx512F.IsSupported)
                {
                    for (; r <= r1 - 16; r += 16)
                    {
                        int c = c0;
                        for (; c <= c1 - 16; c += 16)
                            Transpose16(src + (long)r * columns + c, columns, dst + (long)c * rows + r, rows);
                        for (; c < c1; c++)
                            for (int i = r; i < r + 16; i++)
                                dst[(long)c * rows + i] = src[(long)i * columns + c];
                    }
                }
                for (; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        dst[(long)c * rows + r] = src[(long)r * columns + c];
            }
        });
    }
}
