using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// RoIAlign vectorised over channels (RoiAlignChannelsLast). The bilinear sample positions and
/// weights depend on the RoI, not the channel, so the input is transposed once to channels-last
/// and every tap becomes a multiply-add of two contiguous channel vectors. Same arithmetic order
/// per channel as <see cref="RoiAlign"/> (the plain reference), so results are bit-identical.
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
        var transposed = GC.AllocateUninitializedArray<float>(Math.Max(batchCount * plane * channels, 1), pinned: true);
        fixed (float* nhwc = transposed)
        {
            float* source = nhwc;
            ToChannelsLast(input, batchCount, channels, plane, source);
            CpuParallel.ForCost(roiCount, 16L * channels * bins + 1, (from, to) =>
            {
                var table = Array.Empty<RoiAlign.Sample>();
                var sum = new float[channels];
                var term = new float[channels];
                for (int n = from; n < to; n++)
                {
                    var roi = new RoiAlign.Roi(boxes + n * 5L, spatialScale, outputHeight, outputWidth, samplingRatio, aligned);
                    int perBin = RoiAlign.Prepare(roi, height, width, outputHeight, outputWidth, ref table);
                    float* image = source + (long)roi.Batch * plane * channels;
                    int at = 0;
                    for (int bin = 0; bin < bins; bin++)
                    {
                        Array.Clear(sum);
                        for (int i = 0; i < perBin; i++, at++)
                        {
                            ref readonly var s = ref table[at];
                            // term = w00·v00 + w01·v01 + w10·v10 + w11·v11, left to right, no FMA (matches the reference bit for bit)
                            WeightedTaps(image, channels, s, term);
                            TensorPrimitives.Add(sum, term, sum);
                        }
                        float* result = output + (long)n * channels * bins + bin;
                        for (int c = 0; c < channels; c++)
                            result[(long)c * bins] = sum[c] / roi.Count;
                    }
                }
            });
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

    /// <summary>term[c] = w00·image[o00, c] + w01·image[o01, c] + w10·image[o10, c] + w11·image[o11, c]. Overwrites term.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightedTaps(float* image, int channels, in RoiAlign.Sample s, float[] term)
    {
        float* p00 = image + (long)s.Offset00 * channels, p01 = image + (long)s.Offset01 * channels;
        float* p10 = image + (long)s.Offset10 * channels, p11 = image + (long)s.Offset11 * channels;
        int c = 0;
        fixed (float* t = term)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var w00 = Vector512.Create(s.Weight00);
                var w01 = Vector512.Create(s.Weight01);
                var w10 = Vector512.Create(s.Weight10);
                var w11 = Vector512.Create(s.Weight11);
                for (; c <= channels - 16; c += 16)
                {
                    var v = w00 * Vector512.Load(p00 + c) + w01 * Vector512.Load(p01 + c);
                    v = v + w10 * Vector512.Load(p10 + c);
                    v = v + w11 * Vector512.Load(p11 + c);
                    v.Store(t + c);
                }
            }
            for (; c < channels; c++)
                t[c] = s.Weight00 * p00[c] + s.Weight01 * p01[c] + s.Weight10 * p10[c] + s.Weight11 * p11[c];
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
        CpuParallel.ForCost(outer * channels, plane, (from, to) =>
        {
            for (int row = from; row < to; row++)
            {
                int o = row / channels, c = row % channels;
                float* src = source + (long)row * plane;
                float* dst = destination + (long)o * plane * channels + c;
                for (int p = 0; p < plane; p++) dst[(long)p * channels] = src[p];
            }
        });

    /// <summary>[outer, plane, channels] → [outer, channels, plane]. Overwrites destination.</summary>
    private static void FromChannelsLast(float* source, int outer, int channels, int plane, float* destination) =>
        CpuParallel.ForCost(outer * channels, plane, (from, to) =>
        {
            for (int row = from; row < to; row++)
            {
                int o = row / channels, c = row % channels;
                float* src = source + (long)o * plane * channels + c;
                float* dst = destination + (long)row * plane;
                for (int p = 0; p < plane; p++) dst[p] = src[(long)p * channels];
            }
        });
}
