using Tessera.Autograd;
using Tessera.Engine;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Bad arguments to the vision-family ops throw ArgumentException subclasses that name the op, the argument, what was expected and what was found.</summary>
public sealed class VisionBadInputTests
{
    private static void Throws<TException>(Action call, params string[] words) where TException : ArgumentException
    {
        var error = Assert.Throws<TException>(call);
        foreach (var word in words)
            Assert.Contains(word, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AttentionRejectsMismatchedQueryKeyValue()
    {
        Throws<TensorShapeException>(() => F.ScaledDotProductAttention(Tensor.Zeros(2, 3, 4), Tensor.Zeros(2, 5, 6), Tensor.Zeros(2, 5, 4)),
            "scaled_dot_product_attention", "'key'", "feature size 4", "[2, 5, 6]");
        Throws<TensorShapeException>(() => F.ScaledDotProductAttention(Tensor.Zeros(2, 3, 4), Tensor.Zeros(2, 5, 4), Tensor.Zeros(2, 6, 4)),
            "scaled_dot_product_attention", "'value'", "length 5", "[2, 6, 4]");
        Throws<TensorShapeException>(() => F.ScaledDotProductAttention(Tensor.Zeros(2, 3, 4), Tensor.Zeros(3, 5, 4), Tensor.Zeros(3, 5, 4)),
            "scaled_dot_product_attention", "leading dims [2]", "[3, 5, 4]");
        Throws<TensorShapeException>(() => F.ScaledDotProductAttention(Tensor.Zeros(4), Tensor.Zeros(5, 4), Tensor.Zeros(5, 4)),
            "scaled_dot_product_attention", "'query'", "at least 2 dims", "[4]");
        Throws<TensorDTypeException>(() => F.ScaledDotProductAttention(Tensor.Zeros([2, 3], DType.Int64), Tensor.Zeros(2, 3), Tensor.Zeros(2, 3)),
            "scaled_dot_product_attention", "'query'", "float32", "int64");
    }

    [Fact]
    public void AttentionRejectsBadMasks()
    {
        var q = Tensor.Zeros(2, 3, 4);
        var k = Tensor.Zeros(2, 5, 4);
        Throws<TensorShapeException>(() => F.ScaledDotProductAttention(q, k, k, Tensor.Zeros(3, 4)),
            "scaled_dot_product_attention", "'attnMask'", "[3, 4]", "not broadcastable", "[2, 3, 5]");
        Throws<TensorShapeException>(() => F.ScaledDotProductAttention(q, k, k, Tensor.Zeros(1, 2, 3, 5)),
            "'attnMask'", "[1, 2, 3, 5]", "not broadcastable");
        Throws<TensorDTypeException>(() => F.ScaledDotProductAttention(q, k, k, Tensor.Zeros([3, 5], DType.Int64)),
            "scaled_dot_product_attention", "'attnMask'", "bool", "int64");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(q, k, k, Tensor.Zeros(3, 5), isCausal: true),
            "scaled_dot_product_attention", "'attnMask'", "isCausal");
    }

    [Fact]
    public void GumbelSoftmaxRejectsBadTemperatureNoiseAndDim()
    {
        var logits = Tensor.Zeros(3, 4);
        Throws<ArgumentOutOfRangeException>(() => F.GumbelSoftmax(logits, tau: 0f), "gumbel_softmax", "'tau'", "> 0", "found 0");
        Throws<ArgumentOutOfRangeException>(() => F.GumbelSoftmaxWithNoise(logits, logits, tau: -1f), "gumbel_softmax", "'tau'", "found -1");
        Throws<ArgumentOutOfRangeException>(() => F.GumbelSoftmax(logits, tau: float.NaN), "'tau'", "NaN");
        Throws<TensorShapeException>(() => F.GumbelSoftmaxWithNoise(logits, Tensor.Zeros(4, 3)), "gumbel_softmax", "'noise'", "[3, 4]", "[4, 3]");
        Throws<ArgumentOutOfRangeException>(() => F.GumbelSoftmax(logits, dim: 2), "gumbel_softmax", "'dim'", "found 2");
        Throws<TensorDTypeException>(() => F.GumbelSoftmax(Tensor.Zeros([3], DType.Int64)), "gumbel_softmax", "'logits'", "int64");
    }

    [Fact]
    public void RoutedCombineRejectsMismatchedWeightsAndUnits()
    {
        Throws<TensorShapeException>(() => F.RoutedCombine(Tensor.Zeros(4, 3), [Tensor.Zeros(4, 2), Tensor.Zeros(4, 2)]),
            "routed_combine", "'weights'", "K = 2", "[4, 3]");
        Throws<TensorShapeException>(() => F.RoutedCombine(Tensor.Zeros(4, 2), [Tensor.Zeros(5, 2), Tensor.Zeros(5, 2)]),
            "routed_combine", "N = 4", "[5, 2]");
        Throws<TensorShapeException>(() => F.RoutedCombine(Tensor.Zeros(2), [Tensor.Zeros(3), Tensor.Zeros(4)]),
            "routed_combine", "'units'", "units[1]", "[4]");
        Throws<ArgumentException>(() => F.RoutedCombine(Tensor.Zeros(0), Array.Empty<Tensor>()), "routed_combine", "'units'", "at least one");
        Throws<TensorShapeException>(() => F.RoutedCombine(Tensor.Zeros(2, 3), Tensor.Zeros(2, 2, 5)),
            "routed_combine", "K = 2", "[2, 3]");
        Throws<TensorShapeException>(() => F.RoutedCombine(Tensor.Zeros(2, 3, 1), Tensor.Zeros(3, 2)),
            "routed_combine", "'weights'", "[K] or [N, K]", "[2, 3, 1]");
    }

    [Fact]
    public void RoiAlignRejectsBadBoxesAndSizes()
    {
        var input = Tensor.Zeros(2, 3, 8, 8);
        Throws<TensorShapeException>(() => F.RoiAlign(input, Tensor.Zeros(4, 4), (2, 2)), "roi_align", "'boxes'", "[K, 5]", "[4, 4]");
        Throws<ArgumentOutOfRangeException>(() => F.RoiAlign(input, Tensor.FromArray([2f, 0, 0, 4, 4], 1, 5), (2, 2)),
            "roi_align", "'boxes'", "row 0", "[0, 1]", "found 2");
        Throws<ArgumentOutOfRangeException>(() => F.RoiAlign(input, Tensor.FromArray([0f, 0, 0, 4, 4, -1f, 0, 0, 4, 4], 2, 5), (2, 2)),
            "'boxes'", "row 1", "batch index", "found -1");
        Throws<ArgumentOutOfRangeException>(() => F.RoiAlign(input, Tensor.FromArray([0.5f, 0, 0, 4, 4], 1, 5), (2, 2)),
            "'boxes'", "integer batch index", "found 0.5");
        Throws<ArgumentOutOfRangeException>(() => F.RoiAlign(input, Tensor.Zeros(1, 5), (0, 2)), "roi_align", "'outputSize'", "positive", "(0, 2)");
        Throws<ArgumentOutOfRangeException>(() => F.RoiAlign(input, Tensor.Zeros(1, 5), (2, -1)), "'outputSize'", "(2, -1)");
        Throws<ArgumentOutOfRangeException>(() => F.RoiAlign(input, Tensor.Zeros(1, 5), (2, 2), spatialScale: 0f), "roi_align", "'spatialScale'", "found 0");
        Throws<TensorShapeException>(() => F.RoiAlign(Tensor.Zeros(3, 8, 8), Tensor.Zeros(1, 5), (2, 2)), "roi_align", "'input'", "[3, 8, 8]");
        Throws<TensorShapeException>(() => F.RoiAlign(input, [Tensor.Zeros(2, 5)], (2, 2)), "roi_align", "'boxes[0]'", "[Ki, 4]", "[2, 5]");
        Throws<ArgumentOutOfRangeException>(() => F.RoiAlign(input, [Tensor.Zeros(1, 4), Tensor.Zeros(1, 4), Tensor.Zeros(1, 4)], (2, 2)),
            "'boxes'", "found 2");
    }

    [Fact]
    public void BoxOpsRejectBadShapes()
    {
        Throws<TensorShapeException>(() => F.Nms(Tensor.Zeros(5, 4), Tensor.Zeros(4), 0.5f), "nms", "'scores'", "[5]", "[4]");
        Throws<TensorShapeException>(() => F.Nms(Tensor.Zeros(5, 3), Tensor.Zeros(5), 0.5f), "nms", "'boxes'", "[N, 4]", "[5, 3]");
        Throws<TensorShapeException>(() => F.BatchedNms(Tensor.Zeros(5, 4), Tensor.Zeros(5), Tensor.Zeros([4], DType.Int64), 0.5f),
            "batched_nms", "'idxs'", "[5]", "[4]");
        Throws<TensorShapeException>(() => F.BatchedNms(Tensor.Zeros(5, 4), Tensor.Zeros(5), Tensor.Zeros(5), 0.5f),
            "batched_nms", "'idxs'", "int64", "float32");
        Throws<TensorShapeException>(() => F.BoxIou(Tensor.Zeros(3, 4), Tensor.Zeros(4)), "box_iou", "'boxes2'", "[4]");
        Throws<TensorShapeException>(() => F.BoxEncode(Tensor.Zeros(3, 4), Tensor.Zeros(2, 4), (1, 1, 1, 1)), "box_encode", "'proposals'", "(3)", "[2, 4]");
        Throws<TensorShapeException>(() => F.BoxDecode(Tensor.Zeros(3, 6), Tensor.Zeros(3, 4), (1, 1, 1, 1)), "box_decode", "'relCodes'", "4 * classes", "[3, 6]");
    }
}
