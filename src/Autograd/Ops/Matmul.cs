using Tessera.Engine;
using Tessera.Engine.Threading;
using Tessera.Kernels.Cpu;

namespace Tessera.Autograd;

/// <summary>Matrix products: matmul with torch.matmul's 1-d and batch-broadcast rules, bmm, linear.</summary>
public static partial class Functional
{
    /// <summary>
    /// torch.matmul: 1-d·1-d is a dot product; a 1-d left (right) operand gets a dim prepended
    /// (appended) and removed afterwards; leading dims broadcast as batch dims.
    /// </summary>
    public static Tensor Matmul(Tensor a, Tensor b)
    {
        a.ExpectFloat("matmul", "a");
        b.ExpectFloat("matmul", "b");
        CheckSameDevice("matmul", a, b);
        if (a.Rank == 0 || b.Rank == 0)
            throw new TensorShapeException($"matmul: both arguments need at least one dim, found shapes {Shapes.Format(a.Shape)} and {Shapes.Format(b.Shape)}; use Mul for scalars");
        if (a.Rank == 1 && b.Rank == 1)
            return Reshape(MatmulBatched(Reshape(a, 1, -1), Reshape(b, -1, 1)), []);
        if (a.Rank == 1)
            return Squeeze(MatmulBatched(Unsqueeze(a, 0), b), -2);
        if (b.Rank == 1)
            return Squeeze(MatmulBatched(a, Unsqueeze(b, -1)), -1);
        if (b.Rank == 2 && a.Rank > 2)
        {
            // [..., m, k] · [k, n]: one GEMM over all leading rows instead of one per batch index
            // (and a single GEMM for the weight gradient instead of a batch of them to sum).
            int[] leading = a.ShapeArray[..^1];
            var flat = MatmulBatched(Reshape(a, -1, a.Size(-1)), b);
            return Reshape(flat, [.. leading, b.Size(1)]);
        }
        return MatmulBatched(a, b);
    }

    /// <summary>Batched product of [b, m, k] and [b, k, n] (no broadcasting).</summary>
    public static Tensor Bmm(Tensor a, Tensor b)
    {
        if (a.Rank != 3 || b.Rank != 3 || a.Size(0) != b.Size(0))
            throw new TensorShapeException($"bmm: expected [batch, m, k] and [batch, k, n] with equal batch, found {Shapes.Format(a.Shape)} and {Shapes.Format(b.Shape)}");
        return Matmul(a, b);
    }

    /// <summary>y = x · weightᵀ + bias for x [..., in], weight [out, in], bias [out].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2)
            throw new TensorShapeException($"linear: 'weight' expected [outFeatures, inFeatures], found {Shapes.Format(weight.Shape)}", nameof(weight));
        if (x.Rank == 0 || x.Size(-1) != weight.Size(1))
            throw new TensorShapeException($"linear: 'input' expected last dim {weight.Size(1)} (weight is {Shapes.Format(weight.Shape)}), found shape {Shapes.Format(x.Shape)}", nameof(x));
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != weight.Size(0)))
            throw new TensorShapeException($"linear: 'bias' expected [{weight.Size(0)}], found {Shapes.Format(bias.Shape)}", nameof(bias));
        if (bias is null)
            return Matmul(x, Transpose(weight, 0, 1));
        CheckSameDevice("linear", x, weight, bias);
        if (x.Device.IsGpu)
            return LinearGpu(x, weight, bias);
        // One output tensor (the bias is added into the GEMM's result in place) instead of a
        // product and a sum: a layer keeps one activation for backward, not two, as addmm does.
        Tensor y;
        using (GradMode.NoGrad())
        {
            y = Matmul(x.Detach(), Transpose(weight.Detach(), 0, 1));
            AddBiasInPlace(y, bias);
        }
        int[] inputShape = x.ShapeArray;
        int inFeatures = weight.Size(1), outFeatures = weight.Size(0);
        return AutogradEngine.Record(y, "linear", [x, weight, bias], g =>
        {
            var rows = Reshape(g, -1, outFeatures);
            return
            [
                x.RequiresGrad ? Reshape(Matmul(rows, weight), inputShape) : null,
                weight.RequiresGrad ? Matmul(Transpose(rows, 0, 1), Reshape(x, -1, inFeatures)) : null,
                bias.RequiresGrad ? Sum(rows, 0) : null,
            ];
        });
    }

    /// <summary>y[..., j] += bias[j] for a dense CPU y (not recorded).</summary>
    private static void AddBiasInPlace(Tensor y, Tensor bias)
    {
        var dense = bias.Contiguous();
        int columns = dense.Numel;
        var values = y.AsSpan<float>();
        var row = dense.AsSpan<float>();
        for (int start = 0; start < values.Length; start += columns)
        {
            var slice = values.Slice(start, columns);
            System.Numerics.Tensors.TensorPrimitives.Add(slice, row, slice);
        }
    }

    private static Tensor MatmulBatched(Tensor a, Tensor b)
    {
        int m = a.Size(-2), k = a.Size(-1), n = b.Size(-1);
        if (b.Size(-2) != k)
            throw new TensorShapeException($"matmul: inner dims differ: {Shapes.Format(a.Shape)} times {Shapes.Format(b.Shape)} ({k} vs {b.Size(-2)})");
        int[] batch = Shapes.Broadcast(a.Shape[..^2], b.Shape[..^2], "matmul");
        int[] outShape = [.. batch, m, n];
        var y = Tensor.Allocate(outShape, DType.Float32, a.Device, zero: false);
        if (y.Device.IsGpu)
            RunGpuGemms(a, b, batch, m, n, k, y);
        else
            RunGemms(a, b, batch, m, n, k, y);
        int[] shapeA = a.ShapeArray, shapeB = b.ShapeArray;
        return AutogradEngine.Record(y, "matmul", [a, b], g =>
        [
            a.RequiresGrad ? SumToShape(MatmulBatched(g, Transpose(b, -1, -2)), shapeA) : null,
            b.RequiresGrad ? SumToShape(MatmulBatched(Transpose(a, -1, -2), g), shapeB) : null,
        ]);
    }

    /// <summary>One GEMM per batch index, reading each operand through its strides (transposed views need no copy).</summary>
    private static unsafe void RunGemms(Tensor a, Tensor b, int[] batch, int m, int n, int k, Tensor y)
    {
        var (aMatrix, transposeA, lda) = GemmOperand(a);
        var (bMatrix, transposeB, ldb) = GemmOperand(b);
        int[] batchStridesA = BroadcastStrides(aMatrix, [.. batch, m, k])[..^2];
        int[] batchStridesB = BroadcastStrides(bMatrix, [.. batch, k, n])[..^2];
        int batchCount = Shapes.Numel(batch);
        float* pa = aMatrix.Pointer<float>(), pb = bMatrix.Pointer<float>(), py = y.Pointer<float>();
        void One(int index)
        {
            long offsetA = 0, offsetB = 0;
            int remaining = index;
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                int i = remaining % batch[d];
                remaining /= batch[d];
                offsetA += (long)i * batchStridesA[d];
                offsetB += (long)i * batchStridesB[d];
            }
            Gemm.Run(transposeA, transposeB, m, n, k, 1f, pa + offsetA, lda, pb + offsetB, ldb, 0f, py + (long)index * m * n, n);
        }
        if (batchCount > 1 && batchCount >= CpuParallel.MaxThreads)
        {
            // Enough batches to go around: one serial GEMM per batch, batches in parallel.
            CpuParallel.For(batchCount, 1, (from, to) =>
            {
                using var serial = CpuParallel.SerialScope();
                for (int i = from; i < to; i++) One(i);
            });
        }
        else
        {
            for (int i = 0; i < batchCount; i++) One(i);
        }
    }

    /// <summary>A matrix operand as (tensor, transposed?, leading dim): last-dim stride 1 reads rows, second-last stride 1 reads a transpose.</summary>
    private static (Tensor Matrix, bool Transposed, int Ld) GemmOperand(Tensor t)
    {
        int rows = t.Size(-2), cols = t.Size(-1);
        int rowStride = t.StridesArray[^2], colStride = t.StridesArray[^1];
        if ((colStride == 1 || cols == 1) && (rows == 1 || rowStride >= Math.Max(cols, 1)))
            return (t, false, rows == 1 ? Math.Max(cols, 1) : rowStride);
        if ((rowStride == 1 || rows == 1) && (cols == 1 || colStride >= Math.Max(rows, 1)))
            return (t, true, cols == 1 ? Math.Max(rows, 1) : colStride);
        var dense = t.Contiguous();
        return (dense, false, cols);
    }
}
