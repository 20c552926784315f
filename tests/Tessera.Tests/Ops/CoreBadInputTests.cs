using Tessera.Autograd;
using Tessera.Engine;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Ops;

/// <summary>Every category of bad input to the core ops gets an ArgumentException naming op, argument, expected and found.</summary>
public sealed class CoreBadInputTests
{
    private static void AssertMessage(Exception error, params string[] words)
    {
        foreach (var word in words)
            Assert.Contains(word, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShapeMismatch()
    {
        var error = Assert.Throws<TensorShapeException>(() => Tensor.Ones(2, 3) + Tensor.Ones(4));
        AssertMessage(error, "add", "[2, 3]", "[4]", "broadcast");
        var matmul = Assert.Throws<TensorShapeException>(() => F.Matmul(Tensor.Ones(2, 3), Tensor.Ones(4, 5)));
        AssertMessage(matmul, "matmul", "inner dims", "3 vs 4");
        var linear = Assert.Throws<TensorShapeException>(() => F.Linear(Tensor.Ones(2, 3), Tensor.Ones(4, 5)));
        AssertMessage(linear, "linear", "input", "expected last dim 5", "found");
        var reshape = Assert.Throws<TensorShapeException>(() => Tensor.Ones(2, 3).Reshape(4, 2));
        AssertMessage(reshape, "reshape", "6");
    }

    [Fact]
    public void DTypeMismatch()
    {
        var ints = Tensor.FromArray([1L, 2L]);
        var error = Assert.Throws<TensorDTypeException>(() => F.Exp(ints));
        AssertMessage(error, "exp", "input", "float32", "int64");
        var mask = Assert.Throws<TensorDTypeException>(() => F.Where(Tensor.Ones(2), Tensor.Ones(2), Tensor.Ones(2)));
        AssertMessage(mask, "where", "condition", "bool", "float32");
        Assert.Throws<TensorDTypeException>(() => ints.RequiresGrad = true);
    }

    [Fact]
    public void DeviceMismatch()
    {
        if (!Tessera.Engine.Cuda.GpuContext.IsAvailable(Device.Parse("cuda"), out _))
        {
            var error = Assert.Throws<TensorDeviceException>(() => Tensor.Zeros([2], DType.Float32, Device.Parse("cuda")));
            AssertMessage(error, "cuda", "not available", "cuda-emu");
        }
        var onEmulator = Tensor.Ones(2, 2).To(Device.Parse("cuda-emu"));
        var mixed = Assert.Throws<TensorDeviceException>(() => Functional.Matmul(onEmulator, Tensor.Ones(2, 2)));
        AssertMessage(mixed, "matmul", "cuda-emu", "cpu", "To(");
    }

    [Fact]
    public void OutOfRangeIndex()
    {
        var x = Tensor.Ones(2, 3);
        var dim = Assert.Throws<ArgumentOutOfRangeException>(() => x.Sum(2));
        AssertMessage(dim, "sum", "dim", "[-2, 1]", "found 2");
        var select = Assert.Throws<ArgumentOutOfRangeException>(() => x.Select(1, 3));
        AssertMessage(select, "select", "index", "[-3, 2]", "found 3");
        var permute = Assert.Throws<ArgumentException>(() => x.Permute(0, 0));
        AssertMessage(permute, "permute", "permutation");
    }

    [Fact]
    public void InvalidArguments()
    {
        var clamp = Assert.Throws<ArgumentException>(() => F.Clamp(Tensor.Ones(2)));
        AssertMessage(clamp, "clamp", "min", "max");
        var slice = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Ones(4).Slice(0, 0, 4, 0));
        AssertMessage(slice, "slice", "step");
        var empty = Assert.Throws<TensorShapeException>(() => F.Max(Tensor.Zeros(0, 3), 0));
        AssertMessage(empty, "max", "size 0");
    }

    [Fact]
    public void BackwardWithoutGrad()
    {
        var error = Assert.Throws<ArgumentException>(() => (Tensor.Ones(2) * 3f).Sum().Backward());
        AssertMessage(error, "Backward", "requires grad");
    }
}
