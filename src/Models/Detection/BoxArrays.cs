using Tessera.Autograd;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Detection;

/// <summary>
/// Box bookkeeping on flat float arrays of [x1, y1, x2, y2] rows: the non-differentiable side of
/// detection (anchors, proposals, targets) stays in plain arrays and meets tensors only where a
/// kernel (IoU, encode, decode, NMS) or the gradient needs it.
/// </summary>
internal static class BoxArrays
{
    public static Tensor ToTensor(float[] boxes) => Tensor.FromArray(boxes, boxes.Length / 4, 4);

    /// <summary>Rows of <paramref name="boxes"/> at <paramref name="indices"/>, in that order.</summary>
    public static float[] Rows(float[] boxes, IReadOnlyList<int> indices)
    {
        var rows = new float[indices.Count * 4];
        for (int i = 0; i < indices.Count; i++)
            Array.Copy(boxes, indices[i] * 4, rows, i * 4, 4);
        return rows;
    }

    public static T[] Pick<T>(T[] values, IReadOnlyList<int> indices)
    {
        var picked = new T[indices.Count];
        for (int i = 0; i < indices.Count; i++) picked[i] = values[indices[i]];
        return picked;
    }

    /// <summary>clip_boxes_to_image: x into [0, width], y into [0, height], in place.</summary>
    public static void Clip(float[] boxes, int height, int width)
    {
        for (int i = 0; i < boxes.Length; i += 4)
        {
            boxes[i] = Math.Clamp(boxes[i], 0f, width);
            boxes[i + 1] = Math.Clamp(boxes[i + 1], 0f, height);
            boxes[i + 2] = Math.Clamp(boxes[i + 2], 0f, width);
            boxes[i + 3] = Math.Clamp(boxes[i + 3], 0f, height);
        }
    }

    /// <summary>remove_small_boxes: indices of boxes whose width and height are both at least minSize.</summary>
    public static List<int> NotSmall(float[] boxes, float minSize)
    {
        var keep = new List<int>();
        for (int i = 0; i < boxes.Length / 4; i++)
            if (boxes[4 * i + 2] - boxes[4 * i] >= minSize && boxes[4 * i + 3] - boxes[4 * i + 1] >= minSize)
                keep.Add(i);
        return keep;
    }

    /// <summary>IoU matrix [a rows, b rows], row-major.</summary>
    public static float[] Iou(float[] a, float[] b)
    {
        if (a.Length == 0 || b.Length == 0) return [];
        return F.BoxIou(ToTensor(a), ToTensor(b)).ToArray();
    }

    /// <summary>batched_nms: kept indices (by decreasing score) of boxes with one category each.</summary>
    public static int[] BatchedNms(float[] boxes, float[] scores, long[] categories, float iouThreshold)
    {
        if (scores.Length == 0) return [];
        var keep = F.BatchedNms(ToTensor(boxes), Tensor.FromArray(scores, scores.Length), Tensor.FromArray(categories, categories.Length), iouThreshold);
        return keep.ToArray<long>().Select(k => (int)k).ToArray();
    }

    /// <summary>Indices of the <paramref name="count"/> largest values, largest first; ties keep index order.</summary>
    public static int[] TopK(ReadOnlySpan<float> values, int count)
    {
        var order = new int[values.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var keys = values.ToArray();
        // Descending by value, ties by index: a deterministic order whatever the sort algorithm.
        Array.Sort(order, (x, y) =>
        {
            int byValue = keys[y].CompareTo(keys[x]);
            return byValue != 0 ? byValue : x.CompareTo(y);
        });
        return order.AsSpan(0, Math.Min(count, order.Length)).ToArray();
    }

    /// <summary>int64 index tensor for IndexSelect.</summary>
    public static Tensor Index(IReadOnlyList<int> indices) => Tensor.FromArray(indices.Select(i => (long)i).ToArray(), indices.Count);
}
