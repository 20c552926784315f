using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Engine.Threading;

namespace Tessera.Kernels.Cpu;

public enum BinaryOp { Add, Subtract, Multiply, Divide, Maximum, Minimum, Pow }

public enum CompareOp { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual }

/// <summary>
/// Elementwise float32 kernels. Broadcasting is expressed by strides (0 on a broadcast dim);
/// dims that are contiguous for every operand are merged first so the common cases run as one
/// TensorPrimitives call per row.
/// </summary>
public static unsafe class Elementwise
{
    private const int Grain = 16_384;

    /// <summary>out[i] = op(a[i], b[i]) over <paramref name="shape"/>; out is dense. Overwrites out.</summary>
    public static void Binary(BinaryOp op, float* a, int[] stridesA, float* b, int[] stridesB, float* output, int[] shape)
    {
        var (dims, sa, sb, so) = Coalesce(shape, stridesA, stridesB);
        ForRows(dims, sa, sb, so, (pa, ia, pb, ib, po, n) => BinaryRow(op, a + pa, ia, b + pb, ib, output + po, n));
    }

    /// <summary>out[i] = (a[i] op b[i]) as bool bytes. Overwrites out.</summary>
    public static void Compare(CompareOp op, float* a, int[] stridesA, float* b, int[] stridesB, bool* output, int[] shape)
    {
        var (dims, sa, sb, so) = Coalesce(shape, stridesA, stridesB);
        ForRows(dims, sa, sb, so, (pa, ia, pb, ib, po, n) =>
        {
            float* x = a + pa, y = b + pb;
            bool* o = output + po;
            for (int j = 0; j < n; j++)
            {
                float u = x[(long)j * ia], v = y[(long)j * ib];
                o[j] = op switch
                {
                    CompareOp.Equal => u == v,
                    CompareOp.NotEqual => u != v,
                    CompareOp.Less => u < v,
                    CompareOp.LessEqual => u <= v,
                    CompareOp.Greater => u > v,
                    _ => u >= v,
                };
            }
        });
    }

    /// <summary>out[i] = cond[i] ? a[i] : b[i], all broadcast to shape (strides per operand). Overwrites out.</summary>
    public static void Where(bool* condition, int[] stridesCondition, float* a, int[] stridesA, float* b, int[] stridesB, float* output, int[] shape)
    {
        int rows = 1;
        for (int d = 0; d < shape.Length - 1; d++) rows *= shape[d];
        int inner = shape.Length == 0 ? 1 : shape[^1];
        if (rows == 0 || inner == 0) return;
        int[] outer = shape.Length == 0 ? [] : shape[..^1];
        int ic = shape.Length == 0 ? 0 : stridesCondition[^1], ia = shape.Length == 0 ? 0 : stridesA[^1], ib = shape.Length == 0 ? 0 : stridesB[^1];
        int[] oc = shape.Length == 0 ? [] : stridesCondition[..^1], oa = shape.Length == 0 ? [] : stridesA[..^1], ob = shape.Length == 0 ? [] : stridesB[..^1];
        CpuParallel.ForCost(rows, inner, (from, to) =>
        {
            var walker = new RowWalker(outer, oa, ob, from, oc);
            for (int row = from; row < to; row++)
            {
                bool* c = condition + walker.OffsetC;
                float* x = a + walker.OffsetA, y = b + walker.OffsetB, o = output + (long)row * inner;
                for (int j = 0; j < inner; j++)
                    o[j] = c[(long)j * ic] ? x[(long)j * ia] : y[(long)j * ib];
                walker.Next();
            }
        });
    }

    private delegate void RowBody(long offsetA, int strideA, long offsetB, int strideB, long offsetOut, int count);

    private static void ForRows(int[] shape, int[] sa, int[] sb, int[] so, RowBody body)
    {
        int rank = shape.Length;
        if (rank == 0)
        {
            body(0, 0, 0, 0, 0, 1);
            return;
        }
        int inner = shape[rank - 1];
        int rows = 1;
        for (int d = 0; d < rank - 1; d++) rows *= shape[d];
        if (rows == 0 || inner == 0) return;
        int[] outer = shape[..^1], oa = sa[..^1], ob = sb[..^1];
        int ia = sa[^1], ib = sb[^1];
        if (rows == 1)
        {
            // One long row: split it instead.
            CpuParallel.For(inner, Grain, (from, to) => body((long)from * ia, ia, (long)from * ib, ib, from, to - from));
            return;
        }
        CpuParallel.ForCost(rows, inner, (from, to) =>
        {
            var walker = new RowWalker(outer, oa, ob, from);
            for (int row = from; row < to; row++)
            {
                body(walker.OffsetA, ia, walker.OffsetB, ib, (long)row * inner, inner);
                walker.Next();
            }
        });
    }

    /// <summary>Merges adjacent dims that are contiguous for both inputs and the dense output.</summary>
    internal static (int[] Shape, int[] StridesA, int[] StridesB, int[] StridesOut) Coalesce(int[] shape, int[] stridesA, int[] stridesB)
    {
        var dims = new List<int>();
        var sa = new List<int>();
        var sb = new List<int>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (dims.Count > 0 && sa[^1] == stridesA[d] * shape[d] && sb[^1] == stridesB[d] * shape[d])
            {
                dims[^1] *= shape[d];
                sa[^1] = stridesA[d];
                sb[^1] = stridesB[d];
            }
            else
            {
                dims.Add(shape[d]);
                sa.Add(stridesA[d]);
                sb.Add(stridesB[d]);
            }
        }
        if (dims.Count == 0 && shape.Length > 0)
        {
            dims.Add(1);
            sa.Add(0);
            sb.Add(0);
        }
        int[] so = new int[dims.Count];
        int stride = 1;
        for (int d = dims.Count - 1; d >= 0; d--)
        {
            so[d] = stride;
            stride *= dims[d];
        }
        return (dims.ToArray(), sa.ToArray(), sb.ToArray(), so);
    }

    private static void BinaryRow(BinaryOp op, float* a, int ia, float* b, int ib, float* o, int n)
    {
        var output = new Span<float>(o, n);
        if (ia == 1 && ib == 1)
        {
            var x = new ReadOnlySpan<float>(a, n);
            var y = new ReadOnlySpan<float>(b, n);
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(x, y, output); return;
                case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, output); return;
                case BinaryOp.Multiply: TensorPrimitives.Multiply(x, y, output); return;
                case BinaryOp.Divide: TensorPrimitives.Divide(x, y, output); return;
                case BinaryOp.Maximum: TensorPrimitives.Max(x, y, output); return;
                case BinaryOp.Minimum: TensorPrimitives.Min(x, y, output); return;
            }
        }
        else if (ia == 1 && ib == 0)
        {
            var x = new ReadOnlySpan<float>(a, n);
            float y = *b;
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(x, y, output); return;
                case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, output); return;
                case BinaryOp.Multiply: TensorPrimitives.Multiply(x, y, output); return;
                case BinaryOp.Divide: TensorPrimitives.Divide(x, y, output); return;
            }
        }
        else if (ia == 0 && ib == 1)
        {
            float x = *a;
            var y = new ReadOnlySpan<float>(b, n);
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(y, x, output); return;
                case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, output); return;
                case BinaryOp.Multiply: TensorPrimitives.Multiply(y, x, output); return;
                case BinaryOp.Divide: TensorPrimitives.Divide(x, y, output); return;
            }
        }
        for (int j = 0; j < n; j++)
            o[j] = Apply(op, a[(long)j * ia], b[(long)j * ib]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Apply(BinaryOp op, float x, float y) => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Subtract => x - y,
        BinaryOp.Multiply => x * y,
        BinaryOp.Divide => x / y,
        // PyTorch propagates NaN through maximum/minimum.
        BinaryOp.Maximum => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : MathF.Max(x, y),
        BinaryOp.Minimum => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : MathF.Min(x, y),
        _ => MathF.Pow(x, y),
    };
}
