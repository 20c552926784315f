using Tessera.Engine;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>The GPU side of matmul, bmm and linear: the batched, strided GEMM kernel (<see cref="GpuGemm"/>).</summary>
public static partial class Functional
{
    /// <summary>
    /// Every batch of y = a · b in as few launches as the layout allows: the operands are read through
    /// their strides (transposed and broadcast views need no copy); contiguous batch dims are merged,
    /// the last two merged dims become the kernel's two batch levels, and any further leading dims
    /// are looped over here.
    /// </summary>
    private static void RunGpuGemms(Tensor a, Tensor b, int[] batch, int m, int n, int k, Tensor y)
    {
        int[] stridesA = BroadcastStrides(a, [.. batch, m, k]);
        int[] stridesB = BroadcastStrides(b, [.. batch, k, n]);
        // Batch dims, innermost first, merged while both operands step through them as one dim.
        var dims = new List<(int Size, int StrideA, int StrideB)>();
        for (int d = batch.Length - 1; d >= 0; d--)
        {
            if (batch[d] == 1)
                continue;
            if (dims.Count > 0 && dims[^1].StrideA * dims[^1].Size == stridesA[d] && dims[^1].StrideB * dims[^1].Size == stridesB[d])
                dims[^1] = (dims[^1].Size * batch[d], dims[^1].StrideA, dims[^1].StrideB);
            else
                dims.Add((batch[d], stridesA[d], stridesB[d]));
        }
        var inner = dims.Count > 0 ? dims[0] : (Size: 1, StrideA: 0, StrideB: 0);
        var outer = dims.Count > 1 ? dims[1] : (Size: 1, StrideA: 0, StrideB: 0);
        var rest = dims.Skip(2).ToList();   // looped here, innermost first
        int launches = rest.Aggregate(1, (p, d) => p * d.Size);
        var launcher = y.Gpu.Launcher;
        DeviceSpanOf(a, out var viewA);
        DeviceSpanOf(b, out var viewB);
        var viewC = y.DeviceView<float>();
        int perLaunch = outer.Size * inner.Size * m * n;
        for (int launch = 0; launch < launches; launch++)
        {
            long offsetA = 0, offsetB = 0;
            int remaining = launch;
            foreach (var d in rest)
            {
                int i = remaining % d.Size;
                remaining /= d.Size;
                offsetA += (long)i * d.StrideA;
                offsetB += (long)i * d.StrideB;
            }
            var opA = new GemmOperand(Tail(viewA, offsetA), stridesA[^2], stridesA[^1], outer.StrideA, inner.StrideA);
            var opB = new GemmOperand(Tail(viewB, offsetB), stridesB[^2], stridesB[^1], outer.StrideB, inner.StrideB);
            GpuGemm.Run(launcher, opA, opB, outer.Size, inner.Size, m, n, k, 1f, 0f, Tail(viewC, (long)launch * perLaunch));
        }
    }

    /// <summary>
    /// Linear on a GPU as one node: y starts as the broadcast bias and the GEMM adds x · weightᵀ to it
    /// (beta = 1); the bias gradient is a column sum of the output gradient.
    /// </summary>
    private static Tensor LinearGpu(Tensor x, Tensor weight, Tensor bias)
    {
        CheckSameDevice("linear", x, weight, bias);
        int outFeatures = weight.Size(0), inFeatures = weight.Size(1);
        int[] outShape = [.. x.ShapeArray[..^1], outFeatures];
        int rows = Shapes.Numel(x.ShapeArray[..^1]);
        var y = Tensor.Allocate(outShape, DType.Float32, x.Device, zero: false);
        using (GradMode.NoGrad())
        {
            Tensor.CopyStrided(bias.Detach().Expand(outShape), y);
            var x2 = Reshape(x.Detach(), rows, inFeatures);
            DeviceSpanOf(x2, out var viewX);
            DeviceSpanOf(weight, out var viewW);
            // B(l, j) = weight[j, l]: the weight read transposed through its strides.
            var opX = new GemmOperand(viewX, x2.StridesArray[0], x2.StridesArray[1]);
            var opW = new GemmOperand(viewW, weight.StridesArray[1], weight.StridesArray[0]);
            GpuGemm.Run(x.Gpu.Launcher, opX, opW, rows, outFeatures, inFeatures, 1f, 1f, y.DeviceView<float>());
        }
        int[] inputShape = x.ShapeArray;
        return AutogradEngine.Record(y, "linear", [x, weight, bias], g =>
        {
            var g2 = Reshape(g, rows, outFeatures);
            Tensor? gradBias = null;
            if (bias.RequiresGrad)
            {
                var dense = g2.Contiguous();
                gradBias = Tensor.Allocate([outFeatures], DType.Float32, g.Device, zero: false);
                GpuConv2d.BackwardBias(g.Gpu.Launcher, dense.DeviceView<float>(), rows, outFeatures, 1, gradBias.DeviceView<float>());
            }
            return
            [
                x.RequiresGrad ? Reshape(Matmul(g2, weight), inputShape) : null,
                weight.RequiresGrad ? Matmul(Transpose(g2, 0, 1), Reshape(x, rows, inFeatures)) : null,
                gradBias,
            ];
        });
    }

    /// <summary>A GPU tensor's storage from its first element on, for kernels that read it through its strides.</summary>
    private static void DeviceSpanOf(Tensor t, out Engine.Gpu.DeviceSpan<float> view) => view = t.DeviceStorageView<float>();

    private static Engine.Gpu.DeviceSpan<float> Tail(Engine.Gpu.DeviceSpan<float> view, long start) =>
        start == 0 ? view : view.Slice(checked((int)start), view.Length - (int)start);
}
