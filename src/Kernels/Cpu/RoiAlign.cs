using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

/// <summary>
/// RoIAlign (Mask R-CNN) with torchvision.ops.roi_align semantics, in float32 like torchvision's
/// CPU kernel: each output bin averages a grid of bilinear samples; samples beyond [-1, size]
/// contribute 0; aligned shifts the box by -0.5 pixel; unaligned boxes are at least 1x1.
/// </summary>
public static unsafe class RoiAlign
{
    /// <summary>The sampling geometry of one RoI (shared by forward and backward so they agree exactly).</summary>
    internal readonly struct Roi
    {
        public readonly int Batch;
        public readonly float StartH, StartW, BinH, BinW;
        public readonly int GridH, GridW;
        public readonly float Count;

        public Roi(float* box, float spatialScale, int outputHeight, int outputWidth, int samplingRatio, bool aligned)
        {
            Batch = (int)box[0];
            float offset = aligned ? 0.5f : 0f;
            StartW = box[1] * spatialScale - offset;
            StartH = box[2] * spatialScale - offset;
            float endW = box[3] * spatialScale - offset;
            float endH = box[4] * spatialScale - offset;
            float width = endW - StartW, height = endH - StartH;
            if (!aligned)
            {
                width = MathF.Max(width, 1f);
                height = MathF.Max(height, 1f);
            }
            BinH = height / outputHeight;
            BinW = width / outputWidth;
            GridH = samplingRatio > 0 ? samplingRatio : (int)MathF.Ceiling(height / outputHeight);
            GridW = samplingRatio > 0 ? samplingRatio : (int)MathF.Ceiling(width / outputWidth);
            Count = Math.Max(GridH * GridW, 1);
        }

        /// <summary>Coordinate of sample <paramref name="index"/> of bin <paramref name="bin"/> (torchvision's operation order).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Sample(float start, int bin, float binSize, int index, int grid) =>
            start + bin * binSize + (index + 0.5f) * binSize / grid;
    }

    /// <summary>Bilinear corners and weights of (y, x); false when the sample lies outside [-1, size] and contributes nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Bilinear(float y, float x, int height, int width,
        out int y0, out int x0, out int y1, out int x1, out float w00, out float w01, out float w10, out float w11)
    {
        if (y < -1f || y > height || x < -1f || x > width)
        {
            y0 = x0 = y1 = x1 = 0;
            w00 = w01 = w10 = w11 = 0f;
            return false;
        }
        if (y <= 0) y = 0;
        if (x <= 0) x = 0;
        y0 = (int)y;
        x0 = (int)x;
        if (y0 >= height - 1)
        {
            y1 = y0 = height - 1;
            y = y0;
        }
        else
        {
            y1 = y0 + 1;
        }
        if (x0 >= width - 1)
        {
            x1 = x0 = width - 1;
            x = x0;
        }
        else
        {
            x1 = x0 + 1;
        }
        float ly = y - y0, lx = x - x0, hy = 1f - ly, hx = 1f - lx;
        w00 = hy * hx;
        w01 = hy * lx;
        w10 = ly * hx;
        w11 = ly * lx;
        return true;
    }

    /// <summary>One bilinear sample: the four input offsets it reads and their weights (all zero when it lies outside).</summary>
    internal struct Sample
    {
        public int Offset00, Offset01, Offset10, Offset11;
        public float Weight00, Weight01, Weight10, Weight11;
        public bool Inside;
    }

    /// <summary>
    /// The samples of every bin of a RoI, bin-major (outputHeight * outputWidth * gridH * gridW),
    /// computed once and reused for every channel, like torchvision's pre_calc. Returns the count.
    /// </summary>
    internal static int Prepare(in Roi roi, int height, int width, int outputHeight, int outputWidth, ref Sample[] table)
    {
        int perBin = Math.Max(roi.GridH, 0) * Math.Max(roi.GridW, 0);
        int total = perBin * outputHeight * outputWidth;
        if (table.Length < total)
            table = new Sample[total];
        int at = 0;
        for (int ph = 0; ph < outputHeight; ph++)
            for (int pw = 0; pw < outputWidth; pw++)
                for (int iy = 0; iy < roi.GridH; iy++)
                {
                    float y = Roi.Sample(roi.StartH, ph, roi.BinH, iy, roi.GridH);
                    for (int ix = 0; ix < roi.GridW; ix++)
                    {
                        float x = Roi.Sample(roi.StartW, pw, roi.BinW, ix, roi.GridW);
                        ref var sample = ref table[at++];
                        sample.Inside = Bilinear(y, x, height, width, out int y0, out int x0, out int y1, out int x1,
                            out sample.Weight00, out sample.Weight01, out sample.Weight10, out sample.Weight11);
                        sample.Offset00 = y0 * width + x0;
                        sample.Offset01 = y0 * width + x1;
                        sample.Offset10 = y1 * width + x0;
                        sample.Offset11 = y1 * width + x1;
                    }
                }
        return perBin;
    }

    /// <summary>Overwrites output. Box batch indices must already be validated.</summary>
    // input [batch, channels, height, width], boxes [roiCount, 5] (batch index, x1, y1, x2, y2)
    // output [roiCount, channels, outputHeight, outputWidth]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* input, float* boxes, int channelCount, int height, int width, int roiCount,
        int outputHeight, int outputWidth, float spatialScale, int samplingRatio, bool aligned, float* output)
    {
        long plane = (long)height * width;
        int bins = outputHeight * outputWidth;
        CpuParallel.ForCost(roiCount, 16L * channelCount * bins + 1, (from, to) =>
        {
            var table = Array.Empty<Sample>();
            for (int n = from; n < to; n++)
            {
                var roi = new Roi(boxes + n * 5L, spatialScale, outputHeight, outputWidth, samplingRatio, aligned);
                int perBin = Prepare(roi, height, width, outputHeight, outputWidth, ref table);
                for (int c = 0; c < channelCount; c++)
                {
                    float* image = input + ((long)roi.Batch * channelCount + c) * plane;
                    float* result = output + ((long)n * channelCount + c) * bins;
                    int at = 0;
                    for (int bin = 0; bin < bins; bin++)
                    {
                        float sum = 0f;
                        for (int i = 0; i < perBin; i++, at++)
                        {
                            ref readonly var s = ref table[at];
                            // Outside samples have zero weights and read offset 0, as torchvision's forward.
                            sum += s.Weight00 * image[s.Offset00] + s.Weight01 * image[s.Offset01] + s.Weight10 * image[s.Offset10] + s.Weight11 * image[s.Offset11];
                        }
                        result[bin] = sum / roi.Count;
                    }
                }
            }
        });
    }

    /// <summary>
    /// gradInput = the bilinear scatter of gradOutput / count. Overwrites gradInput. Parallel over
    /// channels (each channel's RoIs scatter into that channel only), RoIs in order within one,
    /// so the sums do not depend on the thread count.
    /// </summary>
    // gradOutput [roiCount, channels, outputHeight, outputWidth], boxes [roiCount, 5]
    // gradInput [batch, channels, height, width]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* gradOutput, float* boxes, int batchCount, int channelCount, int height, int width, int roiCount,
        int outputHeight, int outputWidth, float spatialScale, int samplingRatio, bool aligned, float* gradInput)
    {
        long plane = (long)height * width;
        int bins = outputHeight * outputWidth;
        new Span<float>(gradInput, checked((int)(batchCount * channelCount * plane))).Clear();
        CpuParallel.ForCost(channelCount, 16L * roiCount * bins + 1, (from, to) =>
        {
            var table = Array.Empty<Sample>();
            for (int n = 0; n < roiCount; n++)
            {
                var roi = new Roi(boxes + n * 5L, spatialScale, outputHeight, outputWidth, samplingRatio, aligned);
                int perBin = Prepare(roi, height, width, outputHeight, outputWidth, ref table);
                for (int c = from; c < to; c++)
                {
                    float* image = gradInput + ((long)roi.Batch * channelCount + c) * plane;
                    float* gradient = gradOutput + ((long)n * channelCount + c) * bins;
                    int at = 0;
                    for (int bin = 0; bin < bins; bin++)
                    {
                        float g = gradient[bin];
                        for (int i = 0; i < perBin; i++, at++)
                        {
                            ref readonly var s = ref table[at];
                            if (!s.Inside) continue;
                            image[s.Offset00] += g * s.Weight00 / roi.Count;
                            image[s.Offset01] += g * s.Weight01 / roi.Count;
                            image[s.Offset10] += g * s.Weight10 / roi.Count;
                            image[s.Offset11] += g * s.Weight11 / roi.Count;
                        }
                    }
                }
            }
        });
    }
}
