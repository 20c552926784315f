using Tessera.Autograd;
using Tessera.Engine;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Bad arguments to the normalisation, softmax and loss ops: type of exception and what its message names.</summary>
public sealed class NormBadInputTests
{
    private static readonly Tensor Logits = Tensor.Randn([4, 5]);

    private static void Throws<TException>(Action action, params string[] words) where TException : ArgumentException
    {
        var error = Assert.ThrowsAny<TException>(action);
        foreach (var word in words)
            Assert.Contains(word, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossEntropyTargetShapeMismatch()
    {
        Throws<TensorShapeException>(() => F.CrossEntropy(Logits, Tensor.FromArray(new long[] { 0, 1, 2 })), "cross_entropy", "'target'", "[4]", "found [3]");
        Throws<TensorShapeException>(() => F.CrossEntropy(Logits, Tensor.Zeros(4, 4)), "cross_entropy", "'target'", "[4, 5]", "found [4, 4]");
        Throws<TensorShapeException>(() => F.CrossEntropy(Tensor.Randn([2, 3, 4]), Tensor.FromArray(new long[] { 0, 1, 2, 0, 1, 2 }, 2, 3)), "cross_entropy", "[2, 4]", "found [2, 3]");
    }

    [Fact]
    public void CrossEntropyClassIndexOutOfRange()
    {
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Logits, Tensor.FromArray(new long[] { 0, 5, 1, 2 })), "cross_entropy", "'target'", "[0, 4]", "found 5");
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Logits, Tensor.FromArray(new long[] { 0, -1, 1, 2 })), "cross_entropy", "found -1");
        Throws<ArgumentOutOfRangeException>(() => F.NllLoss(F.LogSoftmax(Logits, 1), Tensor.FromArray(new long[] { 0, 1, 1, 9 })), "nll_loss", "found 9");
        // The ignore index itself is not out of range.
        var loss = F.CrossEntropy(Logits, Tensor.FromArray(new long[] { 0, -100, 1, 2 }));
        Assert.True(float.IsFinite(loss.Item()));
    }

    [Fact]
    public void CrossEntropyWrongTargetDType()
    {
        Throws<TensorDTypeException>(() => F.CrossEntropy(Logits, Tensor.FromArray(new[] { 0, 1, 2, 3 })), "cross_entropy", "'target'", "int64", "int32");
        Throws<TensorDTypeException>(() => F.CrossEntropy(Logits, Tensor.FromArray(new[] { true, false, true, false })), "cross_entropy", "bool");
        Throws<TensorDTypeException>(() => F.NllLoss(Logits, Tensor.Zeros(4)), "nll_loss", "int64", "float32");
    }

    [Fact]
    public void ClassWeightMustHaveOneValuePerClass()
    {
        var target = Tensor.FromArray(new long[] { 0, 1, 2, 3 });
        Throws<TensorShapeException>(() => F.CrossEntropy(Logits, target, Tensor.Ones(4)), "cross_entropy", "'weight'", "[5]", "found [4]");
        Throws<TensorShapeException>(() => F.NllLoss(Logits, target, Tensor.Ones(6)), "nll_loss", "'weight'", "found [6]");
    }

    [Fact]
    public void CrossEntropyHyperParameters()
    {
        var target = Tensor.FromArray(new long[] { 0, 1, 2, 3 });
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Logits, target, labelSmoothing: 1.5f), "cross_entropy", "'labelSmoothing'", "[0, 1]", "1.5");
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Logits, target, reduction: Reduction.BatchMean), "cross_entropy", "'reduction'", "BatchMean");
    }

    [Fact]
    public void BatchNormChannelVectors()
    {
        var x = Tensor.Randn([4, 3, 2]);
        Throws<TensorShapeException>(() => F.BatchNorm(x, null, null, Tensor.Ones(4), null, training: true), "batch_norm", "'weight'", "[3]", "found [4]");
        Throws<TensorShapeException>(() => F.BatchNorm(x, Tensor.Zeros(2), Tensor.Ones(2)), "batch_norm", "'runningMean'", "[3]", "found [2]");
        Throws<TensorShapeException>(() => F.BatchNorm(x, null, null, null, Tensor.Zeros(1, 3), training: true), "batch_norm", "'bias'", "found [1, 3]");
        Throws<TensorShapeException>(() => F.BatchNorm(Tensor.Randn([5]), null, null, training: true), "batch_norm", "'input'", "[N, C, ...]", "[5]");
    }

    [Fact]
    public void BatchNormModes()
    {
        Throws<ArgumentException>(() => F.BatchNorm(Tensor.Randn([4, 3]), null, null, training: false), "batch_norm", "evaluation", "runningMean");
        Throws<ArgumentException>(() => F.BatchNorm(Tensor.Randn([4, 3]), Tensor.Zeros(3), null, training: true), "batch_norm", "runningVar");
        Throws<TensorShapeException>(() => F.BatchNorm(Tensor.Randn([1, 3]), null, null, training: true), "batch_norm", "more than 1 value per channel", "[1, 3]");
    }

    [Fact]
    public void LayerNormShapes()
    {
        var x = Tensor.Randn([2, 3, 4]);
        Throws<TensorShapeException>(() => F.LayerNorm(x, [3]), "layer_norm", "'normalizedShape'", "[2, 3, 4]", "found [3]");
        Throws<TensorShapeException>(() => F.LayerNorm(x, [1, 2, 3, 4]), "layer_norm", "'normalizedShape'", "found [1, 2, 3, 4]");
        Throws<TensorShapeException>(() => F.LayerNorm(x, []), "layer_norm", "'normalizedShape'", "non-empty");
        Throws<TensorShapeException>(() => F.LayerNorm(x, [3, 4], Tensor.Ones(4)), "layer_norm", "'weight'", "[3, 4]", "found [4]");
    }

    [Fact]
    public void GroupNormGroupsMustDivideChannels()
    {
        var x = Tensor.Randn([2, 6, 3]);
        Throws<ArgumentOutOfRangeException>(() => F.GroupNorm(x, 4), "group_norm", "'numGroups'", "divisor", "6", "found 4");
        Throws<ArgumentOutOfRangeException>(() => F.GroupNorm(x, 0), "group_norm", "'numGroups'", "found 0");
        Throws<TensorShapeException>(() => F.GroupNorm(x, 3, Tensor.Ones(3)), "group_norm", "'weight'", "[6]", "found [3]");
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-1e-5f)]
    [InlineData(float.NaN)]
    public void NormsRejectNonPositiveEps(float eps)
    {
        var x = Tensor.Randn([4, 2, 3]);
        string found = $"found {eps}";
        Throws<ArgumentOutOfRangeException>(() => F.BatchNorm(x, null, null, training: true, eps: eps), "batch_norm", "'eps'", "positive", found);
        Throws<ArgumentOutOfRangeException>(() => F.LayerNorm(x, [3], eps: eps), "layer_norm", "'eps'", found);
        Throws<ArgumentOutOfRangeException>(() => F.GroupNorm(x, 2, eps: eps), "group_norm", "'eps'", found);
        Throws<ArgumentOutOfRangeException>(() => F.Normalize(x, eps: eps), "normalize", "'eps'", found);
    }

    [Fact]
    public void PairLossesNeedMatchingTargets()
    {
        var x = Tensor.Randn([3, 4]);
        Throws<TensorShapeException>(() => F.MseLoss(x, Tensor.Randn([4, 3])), "mse_loss", "'target'", "[3, 4]", "found [4, 3]");
        Throws<TensorShapeException>(() => F.L1Loss(x, Tensor.Randn([3])), "l1_loss", "'target'", "found [3]");
        Throws<TensorShapeException>(() => F.KlDiv(x, Tensor.Randn([3, 1])), "kl_div", "'target'", "found [3, 1]");
        Throws<TensorDTypeException>(() => F.BinaryCrossEntropyWithLogits(x, Tensor.Zeros([3, 4], DType.Int64)), "binary_cross_entropy_with_logits", "'target'", "int64");
        Throws<TensorShapeException>(() => F.BinaryCrossEntropyWithLogits(x, Tensor.Zeros(3, 4), posWeight: Tensor.Ones(3)), "binary_cross_entropy_with_logits", "[3]", "[3, 4]");
        Throws<ArgumentOutOfRangeException>(() => F.MseLoss(x, x, Reduction.BatchMean), "mse_loss", "'reduction'", "kl_div");
        Throws<ArgumentOutOfRangeException>(() => F.SmoothL1Loss(x, x, beta: -1f), "smooth_l1_loss", "'beta'", "found -1");
    }

    [Fact]
    public void SoftmaxDimOutOfRange()
    {
        Throws<ArgumentOutOfRangeException>(() => F.Softmax(Tensor.Randn([2, 3]), 2), "softmax", "'dim'", "found 2");
        Throws<ArgumentOutOfRangeException>(() => F.LogSoftmax(Tensor.Randn([2, 3]), -3), "log_softmax", "found -3");
        Throws<TensorDTypeException>(() => F.Softmax(Tensor.Zeros([2], DType.Int64), 0), "softmax", "float32", "int64");
    }
}
