using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Box utilities of torchvision on [x1, y1, x2, y2] boxes (box_iou, BoxCoder encode/decode),
/// one thread per output, in the CPU kernel's order of operations (Kernels.Cpu.Boxes). IoU is
/// bit-identical; encode and decode use the device log and exp (relative error about 1e-6).
/// Non-maximum suppression stays on the host (see GpuBoxes).
/// </summary>
public static class Boxes
{
    /// <summary>iou[i, j] of a[i] and b[j] (0/0 = NaN for two empty boxes). One thread per pair; overwrites iou.</summary>
    [Kernel]
    public static void Iou(
        // [countA, 4]
        DeviceSpan<float> a,
        // [countB, 4]
        DeviceSpan<float> b,
        int countB,
        // [countA, countB]
        DeviceSpan<float> iou)
    {
        if (!Elementwise.Index(iou.Length, out int index))
            return;
        int i = index / countB, j = index - i * countB;
        float ax1 = a[i * 4], ay1 = a[i * 4 + 1], ax2 = a[i * 4 + 2], ay2 = a[i * 4 + 3];
        float bx1 = b[j * 4], by1 = b[j * 4 + 1], bx2 = b[j * 4 + 2], by2 = b[j * 4 + 3];
        float areaA = (ax2 - ax1) * (ay2 - ay1);
        float areaB = (bx2 - bx1) * (by2 - by1);
        float w = MathF.Max(MathF.Min(ax2, bx2) - MathF.Max(ax1, bx1), 0f);
        float h = MathF.Max(MathF.Min(ay2, by2) - MathF.Max(ay1, by1), 0f);
        float inter = w * h;
        iou[index] = inter / (areaA + areaB - inter);
    }

    /// <summary>Regression targets (dx, dy, dw, dh) moving each proposal onto its reference box. One thread per box; overwrites targets.</summary>
    [Kernel]
    public static void Encode(
        // [count, 4] each
        DeviceSpan<float> reference,
        DeviceSpan<float> proposals,
        float wx,
        float wy,
        float ww,
        float wh,
        DeviceSpan<float> targets)
    {
        if (!Elementwise.Index(targets.Length / 4, out int i))
            return;
        int at = i * 4;
        float proposalWidth = proposals[at + 2] - proposals[at], proposalHeight = proposals[at + 3] - proposals[at + 1];
        float proposalX = proposals[at] + 0.5f * proposalWidth, proposalY = proposals[at + 1] + 0.5f * proposalHeight;
        float referenceWidth = reference[at + 2] - reference[at], referenceHeight = reference[at + 3] - reference[at + 1];
        float referenceX = reference[at] + 0.5f * referenceWidth, referenceY = reference[at + 1] + 0.5f * referenceHeight;
        targets[at] = wx * (referenceX - proposalX) / proposalWidth;
        targets[at + 1] = wy * (referenceY - proposalY) / proposalHeight;
        targets[at + 2] = ww * MathF.Log(referenceWidth / proposalWidth);
        targets[at + 3] = wh * MathF.Log(referenceHeight / proposalHeight);
    }

    /// <summary>
    /// Applies codes (dx, dy, dw, dh per class) to the boxes; dw and dh are clamped to at most clip
    /// before exp. One thread per (box, class); overwrites decoded.
    /// </summary>
    [Kernel]
    public static void Decode(
        // [count, classCount * 4]
        DeviceSpan<float> codes,
        // [count, 4]
        DeviceSpan<float> boxes,
        int classCount,
        float wx,
        float wy,
        float ww,
        float wh,
        float clip,
        // [count, classCount * 4]
        DeviceSpan<float> decoded)
    {
        if (!Elementwise.Index(decoded.Length / 4, out int task))
            return;
        int i = task / classCount, at = task * 4;
        float width = boxes[i * 4 + 2] - boxes[i * 4], height = boxes[i * 4 + 3] - boxes[i * 4 + 1];
        float centerX = boxes[i * 4] + 0.5f * width, centerY = boxes[i * 4 + 1] + 0.5f * height;
        float dx = codes[at] / wx, dy = codes[at + 1] / wy;
        float dw = MathF.Min(codes[at + 2] / ww, clip), dh = MathF.Min(codes[at + 3] / wh, clip);
        float x = dx * width + centerX, y = dy * height + centerY;
        float halfWidth = 0.5f * (MathF.Exp(dw) * width), halfHeight = 0.5f * (MathF.Exp(dh) * height);
        decoded[at] = x - halfWidth;
        decoded[at + 1] = y - halfHeight;
        decoded[at + 2] = x + halfWidth;
        decoded[at + 3] = y + halfHeight;
    }
}
