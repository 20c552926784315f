using Tessera.Autograd;
using Tessera.Engine;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Bad arguments to the indexing family throw ArgumentException subclasses naming the op, the argument, the expectation and what was found.</summary>
public sealed class IndexingBadInputTests
{
    private static Tensor Long(params long[] values) => Tensor.FromArray(values);

    private static void AssertMessage(Exception error, params string[] words)
    {
        foreach (var word in words)
            Assert.True(error.Message.Contains(word, StringComparison.Ordinal), $"message lacks '{word}': {error.Message}");
    }

    [Fact]
    public void EmbeddingIndexOutOfRangeNamesValueAndRange()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.Embedding(Long(1, 5, 2), Tensor.Zeros(5, 3)));
        AssertMessage(error, "embedding", "'indices'", "[0, 4]", "found 5", "weight [5, 3]");
        Assert.Equal(5L, error.ActualValue);
        Assert.Equal("indices", error.ParamName);
    }

    [Fact]
    public void EmbeddingNegativeIndexIsOutOfRange()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.Embedding(Long(-1), Tensor.Zeros(4, 2)));
        AssertMessage(error, "embedding", "[0, 3]", "found -1");
    }

    [Fact]
    public void EmbeddingRejectsBadWeightAndPaddingIdx()
    {
        var shape = Assert.Throws<TensorShapeException>(() => F.Embedding(Long(0), Tensor.Zeros(4)));
        AssertMessage(shape, "embedding", "'weight'", "2-d", "[4]");
        var padding = Assert.Throws<ArgumentOutOfRangeException>(() => F.Embedding(Long(0), Tensor.Zeros(4, 2), paddingIdx: 4));
        AssertMessage(padding, "embedding", "'paddingIdx'", "[-4, 3]", "found 4");
    }

    [Fact]
    public void GatherIndexOutOfRange()
    {
        var index = Tensor.FromArray(new long[] { 0, 3, 1, 2 }, 2, 2);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.Gather(Tensor.Zeros(2, 3), 1, index));
        AssertMessage(error, "gather", "'index'", "[0, 2]", "found 3", "dim 1");
    }

    [Fact]
    public void GatherIndexRankMismatch()
    {
        var error = Assert.Throws<TensorShapeException>(() => F.Gather(Tensor.Zeros(3, 4), 1, Long(0, 1, 2)));
        AssertMessage(error, "gather", "'index'", "rank 2", "found rank 1", "[3]");
    }

    [Fact]
    public void GatherIndexLargerThanInputOutsideDim()
    {
        var index = Tensor.Zeros([4, 2], DType.Int64);
        var error = Assert.Throws<TensorShapeException>(() => F.Gather(Tensor.Zeros(3, 4), 1, index));
        AssertMessage(error, "gather", "'index'", "size <= 3 in dim 0", "found 4");
    }

    [Fact]
    public void IndexSelectIndexOutOfRange()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.IndexSelect(Tensor.Zeros(2, 3), -2, Long(0, 2)));
        AssertMessage(error, "index_select", "'index'", "[0, 1]", "found 2");
    }

    [Fact]
    public void IndexSelectRejectsMatrixIndex()
    {
        var error = Assert.Throws<TensorShapeException>(() => F.IndexSelect(Tensor.Zeros(2, 3), 0, Tensor.Zeros([2, 2], DType.Int64)));
        AssertMessage(error, "index_select", "'index'", "1-d", "[2, 2]");
    }

    [Fact]
    public void ScatterAddIndexOutOfRange()
    {
        var index = Tensor.FromArray(new long[] { 0, 7 }, 1, 2);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.ScatterAdd(Tensor.Zeros(2, 3), 1, index, Tensor.Zeros(1, 2)));
        AssertMessage(error, "scatter_add", "'index'", "[0, 2]", "found 7");
    }

    [Fact]
    public void ScatterAddSourceSmallerThanIndex()
    {
        var index = Tensor.Zeros([2, 3], DType.Int64);
        var error = Assert.Throws<TensorShapeException>(() => F.ScatterAdd(Tensor.Zeros(2, 3), 0, index, Tensor.Zeros(2, 2)));
        AssertMessage(error, "scatter_add", "'index'", "size <= 2 in dim 1", "src", "found 3");
    }

    [Fact]
    public void FloatIndicesAreRejectedByEveryIndexingOp()
    {
        var floatIndex = Tensor.FromArray(new[] { 0f, 1f });
        Action[] calls =
        [
            () => F.Embedding(floatIndex, Tensor.Zeros(3, 2)),
            () => F.Gather(Tensor.Zeros(3), 0, floatIndex),
            () => F.IndexSelect(Tensor.Zeros(3), 0, floatIndex),
            () => F.ScatterAdd(Tensor.Zeros(3), 0, floatIndex, Tensor.Zeros(2)),
        ];
        string[] ops = ["embedding", "gather", "index_select", "scatter_add"];
        for (int i = 0; i < calls.Length; i++)
        {
            var error = Assert.Throws<TensorDTypeException>(calls[i]);
            AssertMessage(error, ops[i], "int64", "found float32");
        }
    }

    [Fact]
    public void Int32IndicesAreWidened()
    {
        var y = F.IndexSelect(Tensor.FromArray(new[] { 10f, 20f, 30f }), 0, Tensor.FromArray(new[] { 2, 0 }));
        Assert.Equal(new[] { 30f, 10f }, y.ToArray());
    }

    [Fact]
    public void CatMismatchedShapes()
    {
        var error = Assert.Throws<TensorShapeException>(() => F.Cat([Tensor.Zeros(2, 3, 4), Tensor.Zeros(2, 3, 5)], 1));
        AssertMessage(error, "cat", "'tensors[1]'", "[2, *, 4]", "found [2, 3, 5]");
    }

    [Fact]
    public void CatDifferentDTypes()
    {
        var error = Assert.Throws<TensorDTypeException>(() => F.Cat([Tensor.Zeros(2), Tensor.Zeros([2], DType.Int64)]));
        AssertMessage(error, "cat", "'tensors[1]'", "float32", "found int64");
    }

    [Fact]
    public void CatAndStackOfNothing()
    {
        AssertMessage(Assert.Throws<ArgumentException>(() => F.Cat([])), "cat", "'tensors'", "at least one", "empty");
        AssertMessage(Assert.Throws<ArgumentException>(() => F.Stack([])), "stack", "'tensors'", "at least one", "empty");
    }

    [Fact]
    public void CatDimOutOfRangeAndZeroDimInputs()
    {
        var dim = Assert.Throws<ArgumentOutOfRangeException>(() => F.Cat([Tensor.Zeros(2, 3)], 2));
        AssertMessage(dim, "cat", "'dim'", "[-2, 1]", "found 2");
        var scalar = Assert.Throws<TensorShapeException>(() => F.Cat([Tensor.Scalar(1f), Tensor.Scalar(2f)]));
        AssertMessage(scalar, "cat", "0-d", "Stack");
    }

    [Fact]
    public void StackMismatchedShapes()
    {
        var error = Assert.Throws<TensorShapeException>(() => F.Stack([Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)], -1));
        AssertMessage(error, "stack", "'tensors[1]'", "[2, 3]", "found [3, 2]");
    }

    [Fact]
    public void SplitSizeMustBePositive()
    {
        foreach (int size in new[] { 0, -2 })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.Split(Tensor.Zeros(4, 2), size));
            AssertMessage(error, "split", "'splitSize'", "positive", $"found {size}");
        }
        var chunks = Assert.Throws<ArgumentOutOfRangeException>(() => F.Chunk(Tensor.Zeros(4), 0));
        AssertMessage(chunks, "chunk", "'chunks'", "positive", "found 0");
    }

    [Fact]
    public void SplitSizesMustAddUp()
    {
        var error = Assert.Throws<ArgumentException>(() => F.Split(Tensor.Zeros(2, 5), [2, 2], 1));
        AssertMessage(error, "split", "'splitSizes'", "adding up to 5", "[2, 2]", "adding up to 4");
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => F.Split(Tensor.Zeros(3), [4, -1]));
        AssertMessage(negative, "split", "non-negative", "found -1");
    }

    [Fact]
    public void ReflectPadMustBeSmallerThanTheDim()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => F.Pad(Tensor.Zeros(1, 2, 4), [1, 4], PaddingMode.Reflect));
        AssertMessage(error, "pad", "reflect", "dim 2 (size 4)", "pads < 4", "found (1, 4)");
        var circular = Assert.Throws<ArgumentOutOfRangeException>(() => F.Pad(Tensor.Zeros(1, 3, 2), [0, 0, 4, 0], PaddingMode.Circular));
        AssertMessage(circular, "pad", "circular", "pads <= 3", "found (4, 0)");
    }

    [Fact]
    public void PadCountsAndRanks()
    {
        var odd = Assert.Throws<ArgumentException>(() => F.Pad(Tensor.Zeros(2, 3), [1, 1, 1]));
        AssertMessage(odd, "pad", "'pads'", "even", "found 3");
        var tooMany = Assert.Throws<ArgumentException>(() => F.Pad(Tensor.Zeros(3), [1, 1, 1, 1]));
        AssertMessage(tooMany, "pad", "at most 2", "found 4");
        var rank = Assert.Throws<ArgumentException>(() => F.Pad(Tensor.Zeros(5), [1, 1], PaddingMode.Replicate));
        AssertMessage(rank, "pad", "replicate", "leading dims", "shape [5]");
        var crop = Assert.Throws<ArgumentException>(() => F.Pad(Tensor.Zeros(2, 3), [-2, -2]));
        AssertMessage(crop, "pad", "'pads'", "non-negative result size", "found -1");
        var dtype = Assert.Throws<TensorDTypeException>(() => F.Pad(Tensor.Zeros([2, 3], DType.Int64), [1, 1]));
        AssertMessage(dtype, "pad", "float32", "found int64");
    }

    [Fact]
    public void RollAndFlipArguments()
    {
        var count = Assert.Throws<ArgumentException>(() => F.Roll(Tensor.Zeros(2, 3), [1, 2], [0]));
        AssertMessage(count, "roll", "'shifts'", "one shift per dim", "found 2 shifts");
        var flat = Assert.Throws<ArgumentException>(() => F.Roll(Tensor.Zeros(2, 3), [1, 2]));
        AssertMessage(flat, "roll", "one shift when no dims", "[1, 2]");
        var dim = Assert.Throws<ArgumentOutOfRangeException>(() => F.Roll(Tensor.Zeros(2, 3), [1], [3]));
        AssertMessage(dim, "roll", "'dims'", "found 3");
        var twice = Assert.Throws<ArgumentException>(() => F.Flip(Tensor.Zeros(2, 3), 1, -1));
        AssertMessage(twice, "flip", "'dims'", "distinct", "dim 1 twice");
    }
}
