namespace Tessera.Kernels.Cpu;

/// <summary>
/// Box utilities of torchvision (box_iou, BoxCoder encode/decode, nms) on [x1, y1, x2, y2] boxes,
/// in float32 with torchvision's order of operations so results agree bit for bit where possible.
/// </summary>
public static unsafe class Boxes
{
    /// <summary>iou[i, j] = intersection / union of a[i] and b[j] (0/0 = NaN for two empty boxes, as torchvision). Overwrites iou.</summary>
    // a [countA, 4], b [countB, 4], iou [countA, countB]
    public static void Iou(float* a, float* b, int countA, int countB, float* iou)
    {
        for (int i = 0; i < countA; i++)
        {
            float* p = a + i * 4L;
            float areaA = (p[2] - p[0]) * (p[3] - p[1]);
            for (int j = 0; j < countB; j++)
            {
                float* q = b + j * 4L;
                float areaB = (q[2] - q[0]) * (q[3] - q[1]);
                float inter = Intersection(p, q);
                iou[(long)i * countB + j] = inter / (areaA + areaB - inter);
            }
        }
    }

    private static float Intersection(float* p, float* q)
    {
        float w = MathF.Max(MathF.Min(p[2], q[2]) - MathF.Max(p[0], q[0]), 0f);
        float h = MathF.Max(MathF.Min(p[3], q[3]) - MathF.Max(p[1], q[1]), 0f);
        return w * h;
    }

    /// <summary>Regression targets (dx, dy, dw, dh) that turn each proposal into its reference box (BoxCoder.encode_single). Overwrites targets.</summary>
    // reference, proposals, targets [count, 4]; weights (wx, wy, ww, wh)
    public static void Encode(float* reference, float* proposals, int count, float wx, float wy, float ww, float wh, float* targets)
    {
        for (int i = 0; i < count; i++)
        {
            float* p = proposals + i * 4L, r = reference + i * 4L, t = targets + i * 4L;
            float proposalWidth = p[2] - p[0], proposalHeight = p[3] - p[1];
            float proposalX = p[0] + 0.5f * proposalWidth, proposalY = p[1] + 0.5f * proposalHeight;
            float referenceWidth = r[2] - r[0], referenceHeight = r[3] - r[1];
            float referenceX = r[0] + 0.5f * referenceWidth, referenceY = r[1] + 0.5f * referenceHeight;
            t[0] = wx * (referenceX - proposalX) / proposalWidth;
            t[1] = wy * (referenceY - proposalY) / proposalHeight;
            t[2] = ww * MathF.Log(referenceWidth / proposalWidth);
            t[3] = wh * MathF.Log(referenceHeight / proposalHeight);
        }
    }

    /// <summary>
    /// Applies codes (dx, dy, dw, dh per class) to the boxes (BoxCoder.decode_single); dw and dh
    /// are clamped to at most clip before exp. Overwrites decoded.
    /// </summary>
    // codes, decoded [count, classCount * 4]; boxes [count, 4]
    public static void Decode(float* codes, float* boxes, int count, int classCount, float wx, float wy, float ww, float wh, float clip, float* decoded)
    {
        for (int i = 0; i < count; i++)
        {
            float* box = boxes + i * 4L;
            float width = box[2] - box[0], height = box[3] - box[1];
            float centerX = box[0] + 0.5f * width, centerY = box[1] + 0.5f * height;
            for (int c = 0; c < classCount; c++)
            {
                long at = ((long)i * classCount + c) * 4;
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
    }

    /// <summary>
    /// Greedy non-maximum suppression: visits boxes by decreasing score (ties by index) and drops
    /// every later box whose IoU with a kept one exceeds the threshold. Writes the kept indices
    /// (in visiting order) to keep and returns how many there are.
    /// </summary>
    // boxes [count, 4], scores [count], keep [count]
    public static int Nms(float* boxes, float* scores, int count, float iouThreshold, long* keep)
    {
        var order = new int[count];
        var sortKeys = new float[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
            sortKeys[i] = -scores[i];
        }
        Array.Sort(sortKeys, order);
        // Array.Sort is not stable; restore index order among equal scores.
        for (int start = 0; start < count;)
        {
            int end = start + 1;
            while (end < count && sortKeys[end].Equals(sortKeys[start])) end++;
            Array.Sort(order, start, end - start);
            start = end;
        }
        var areas = new float[count];
        for (int i = 0; i < count; i++)
            areas[i] = (boxes[i * 4L + 2] - boxes[i * 4L]) * (boxes[i * 4L + 3] - boxes[i * 4L + 1]);
        var suppressed = new bool[count];
        int kept = 0;
        for (int a = 0; a < count; a++)
        {
            int i = order[a];
            if (suppressed[i]) continue;
            keep[kept++] = i;
            for (int b = a + 1; b < count; b++)
            {
                int j = order[b];
                if (suppressed[j]) continue;
                float inter = Intersection(boxes + i * 4L, boxes + j * 4L);
                float overlap = inter / (areas[i] + areas[j] - inter);
                if (overlap > iouThreshold) suppressed[j] = true;
            }
        }
        return kept;
    }
}
