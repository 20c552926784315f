using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// RoIAlign (torchvision.ops.roi_align semantics) over one or several feature levels. The levels
/// [batch, channels, height_l, width_l] are packed one after the other in one buffer, described by
/// levelLayout [levels, 3] = (element offset, height, width) and levelScales [levels]; roiLevels
/// [roiCount] picks each RoI's level (empty: every RoI on level 0, the single-level op). With
/// onlyLevel &gt;= 0 a launch serves one level given alone (a one-entry layout) and skips the RoIs
/// of other levels, so separate level tensors need no packing copy (one launch per level). The
/// sampling geometry and the bilinear weights are computed exactly as in Kernels.Cpu.RoiAlign
/// (same operations in the same order, no contraction into FMA), so the forward matches the CPU
/// bit for bit; the backward scatters with atomic adds, so its sums are equal up to rounding order.
/// </summary>
public static class RoiAlign
{
    /// <summary>
    /// One thread per output element (roi, channel, ph, pw), threads of a block on neighbouring
    /// pw/ph, so a block reads a compact patch of one channel. Overwrites output.
    /// </summary>
    [Kernel]
    public static void Forward(
        // the levels, packed: [batch, channels, height_l, width_l] each
        DeviceSpan<float> input,
        // [levels, 3] (offset, height, width) and [levels]
        DeviceSpan<int> levelLayout,
        DeviceSpan<float> levelScales,
        // [roiCount] or empty
        DeviceSpan<int> roiLevels,
        // [roiCount, 5] (batch index, x1, y1, x2, y2)
        DeviceSpan<float> boxes,
        int channelCount,
        int outputHeight,
        int outputWidth,
        int samplingRatio,
        int aligned,
        int onlyLevel,
        // [roiCount, channels, outputHeight, outputWidth]
        DeviceSpan<float> output)
    {
        if (!Elementwise.Index(output.Length, out int index))
            return;
        int pw = index % outputWidth, ph = index / outputWidth % outputHeight;
        int c = index / (outputWidth * outputHeight) % channelCount, n = index / (outputWidth * outputHeight * channelCount);
        int level = roiLevels.Length > 0 ? roiLevels[n] : 0;
        if (onlyLevel >= 0)
        {
            if (level != onlyLevel)
                return;
            level = 0;
        }
        int height = levelLayout[level * 3 + 1], width = levelLayout[level * 3 + 2];
        Geometry(boxes, n, levelScales[level], outputHeight, outputWidth, samplingRatio, aligned,
            out int batch, out float startH, out float startW, out float binH, out float binW, out int gridH, out int gridW, out float count);
        int image = levelLayout[level * 3] + (batch * channelCount + c) * height * width;
        float sum = 0f;
        for (int iy = 0; iy < gridH; iy++)
        {
            float y = startH + ph * binH + (iy + 0.5f) * binH / gridH;
            for (int ix = 0; ix < gridW; ix++)
            {
                float x = startW + pw * binW + (ix + 0.5f) * binW / gridW;
                if (!Bilinear(y, x, height, width, out int y0, out int x0, out int y1, out int x1, out float w00, out float w01, out float w10, out float w11))
                    continue;   // outside samples add exactly 0 on the CPU too
                sum += w00 * input[image + y0 * width + x0] + w01 * input[image + y0 * width + x1]
                    + w10 * input[image + y1 * width + x0] + w11 * input[image + y1 * width + x1];
            }
        }
        output[index] = sum / count;
    }

    /// <summary>
    /// gradInput += the bilinear scatter of gradOutput / count: one thread per gradOutput element,
    /// atomic adds (RoIs overlap). Accumulates: zero gradInput first.
    /// </summary>
    [Kernel]
    public static void Backward(
        // [roiCount, channels, outputHeight, outputWidth]
        DeviceSpan<float> gradOutput,
        // as in Forward
        DeviceSpan<int> levelLayout,
        DeviceSpan<float> levelScales,
        DeviceSpan<int> roiLevels,
        DeviceSpan<float> boxes,
        int channelCount,
        int outputHeight,
        int outputWidth,
        int samplingRatio,
        int aligned,
        int onlyLevel,
        // the levels, packed like Forward's input
        DeviceSpan<float> gradInput)
    {
        if (!Elementwise.Index(gradOutput.Length, out int index))
            return;
        int pw = index % outputWidth, ph = index / outputWidth % outputHeight;
        int c = index / (outputWidth * outputHeight) % channelCount, n = index / (outputWidth * outputHeight * channelCount);
        int level = roiLevels.Length > 0 ? roiLevels[n] : 0;
        if (onlyLevel >= 0)
        {
            if (level != onlyLevel)
                return;
            level = 0;
        }
        int height = levelLayout[level * 3 + 1], width = levelLayout[level * 3 + 2];
        Geometry(boxes, n, levelScales[level], outputHeight, outputWidth, samplingRatio, aligned,
            out int batch, out float startH, out float startW, out float binH, out float binW, out int gridH, out int gridW, out float count);
        int image = levelLayout[level * 3] + (batch * channelCount + c) * height * width;
        float g = gradOutput[index];
        for (int iy = 0; iy < gridH; iy++)
        {
            float y = startH + ph * binH + (iy + 0.5f) * binH / gridH;
            for (int ix = 0; ix < gridW; ix++)
            {
                float x = startW + pw * binW + (ix + 0.5f) * binW / gridW;
                if (!Bilinear(y, x, height, width, out int y0, out int x0, out int y1, out int x1, out float w00, out float w01, out float w10, out float w11))
                    continue;
                Atomic.Add(ref gradInput[image + y0 * width + x0], g * w00 / count);
                Atomic.Add(ref gradInput[image + y0 * width + x1], g * w01 / count);
                Atomic.Add(ref gradInput[image + y1 * width + x0], g * w10 / count);
                Atomic.Add(ref gradInput[image + y1 * width + x1], g * w11 / count);
            }
        }
    }

    /// <summary>The sampling geometry of RoI n (Kernels.Cpu.RoiAlign.Roi, operation for operation).</summary>
    private static void Geometry(DeviceSpan<float> boxes, int n, float spatialScale, int outputHeight, int outputWidth, int samplingRatio, int aligned,
        out int batch, out float startH, out float startW, out float binH, out float binW, out int gridH, out int gridW, out float count)
    {
        batch = (int)boxes[n * 5];
        float offset = aligned != 0 ? 0.5f : 0f;
        startW = boxes[n * 5 + 1] * spatialScale - offset;
        startH = boxes[n * 5 + 2] * spatialScale - offset;
        float endW = boxes[n * 5 + 3] * spatialScale - offset;
        float endH = boxes[n * 5 + 4] * spatialScale - offset;
        float roiWidth = endW - startW, roiHeight = endH - startH;
        if (aligned == 0)
        {
            roiWidth = MathF.Max(roiWidth, 1f);
            roiHeight = MathF.Max(roiHeight, 1f);
        }
        binH = roiHeight / outputHeight;
        binW = roiWidth / outputWidth;
        gridH = samplingRatio > 0 ? samplingRatio : (int)MathF.Ceiling(roiHeight / outputHeight);
        gridW = samplingRatio > 0 ? samplingRatio : (int)MathF.Ceiling(roiWidth / outputWidth);
        count = Math.Max(gridH * gridW, 1);
    }

    /// <summary>Bilinear corners and weights of (y, x) (Kernels.Cpu.RoiAlign.Bilinear); false outside [-1, size].</summary>
    private static bool Bilinear(float y, float x, int height, int width,
        out int y0, out int x0, out int y1, out int x1, out float w00, out float w01, out float w10, out float w11)
    {
        y0 = x0 = y1 = x1 = 0;
        w00 = w01 = w10 = w11 = 0f;
        if (y < -1f || y > height || x < -1f || x > width)
            return false;
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
}
