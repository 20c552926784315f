using Tessera.Engine;
using Tessera.Engine.Gpu;

namespace Tessera.Autograd;

/// <summary>GPU-side helpers of the attention, routing and vision ops (the kernels are in Kernels/Gpu/{Attention,Routing,Vision}).</summary>
public static partial class Functional
{
    /// <summary>The flash-attention kernels' strided view of a bias: its storage from element [0, ...], one offset per flattened batch index (an int32 tensor on the device), and the two score strides.</summary>
    private readonly record struct GpuBias(DeviceSpan<float> Data, DeviceSpan<int> Offsets, int RowStride, int ColumnStride, Tensor OffsetsTensor);

    /// <summary>The bias of a GPU attention call as the kernels read it; for no bias an empty view and a zero offset per batch.</summary>
    private static GpuBias GpuBiasView(Tensor? bias, int[] scoreShape)
    {
        int batchRank = scoreShape.Length - 2;
        int batchCount = Shapes.Numel(scoreShape.AsSpan(0, batchRank));
        var offsets = new int[Math.Max(batchCount, 1)];
        if (bias is null)
        {
            var none = Tensor.FromArray(offsets, offsets.Length);
            return new GpuBias(default, default, 0, 0, none);
        }
        int[] strides = BroadcastStrides(bias, scoreShape);
        for (int index = 0; index < batchCount; index++)
        {
            long offset = 0;
            int remaining = index;
            for (int d = batchRank - 1; d >= 0; d--)
            {
                offset += (long)(remaining % scoreShape[d]) * strides[d];
                remaining /= scoreShape[d];
            }
            offsets[index] = checked((int)offset);
        }
        var device = Tensor.FromArray(offsets, offsets.Length).To(bias.Device);
        return new GpuBias(bias.DeviceStorageView<float>(), device.DeviceView<int>(), strides[^2], strides[^1], device);
    }

    /// <summary>A bool attention mask on a GPU as an additive float bias (0 kept, -inf masked), same shape.</summary>
    private static Tensor GpuMaskToBias(Tensor mask)
    {
        var dense = mask.Contiguous();
        var bias = Tensor.Allocate(mask.Shape, DType.Float32, mask.Device, zero: false);
        Kernels.Gpu.GpuAttention.MaskToBias(mask.Gpu.Launcher, dense.DeviceStorageView<byte>(), bias.DeviceView<float>());
        GC.KeepAlive(dense);
        return bias;
    }
}
