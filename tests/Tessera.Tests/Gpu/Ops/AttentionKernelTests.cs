using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu;
using Xunit;
using CpuAttention = Tessera.Kernels.Cpu.Attention;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>The flash-attention kernels on the PTX emulator against the CPU kernel (Kernels.Cpu.Attention), tiny shapes.</summary>
public class AttentionKernelTests
{
    public enum BiasKind { None, Full, KeyRow, WithInfinities }

    [Theory]
    [InlineData(2, 5, 7, 8, 6, false, BiasKind.None)]        // one tile, ragged everything
    [InlineData(1, 18, 40, 4, 3, false, BiasKind.None)]      // two query blocks, two key tiles
    [InlineData(2, 18, 37, 5, 4, true, BiasKind.None)]       // causal across tiles (Lq < Lk)
    [InlineData(1, 20, 6, 4, 4, true, BiasKind.None)]        // causal with Lq > Lk
    [InlineData(2, 6, 9, 4, 5, false, BiasKind.Full)]        // additive bias with its gradient
    [InlineData(2, 6, 9, 4, 5, false, BiasKind.KeyRow)]      // broadcast bias (strides 0)
    [InlineData(1, 5, 6, 3, 3, false, BiasKind.WithInfinities)] // -inf entries and one fully masked row
    public void ForwardAndBackwardMatchTheCpuKernel(int batchCount, int queryLength, int keyLength, int headDim, int valueDim, bool causal, BiasKind biasKind)
    {
        float scale = 1f / MathF.Sqrt(headDim);
        float[] q = GpuTestSupport.RandomFloats(batchCount * queryLength * headDim, 1, -2f, 2f);
        float[] k = GpuTestSupport.RandomFloats(batchCount * keyLength * headDim, 2, -2f, 2f);
        float[] v = GpuTestSupport.RandomFloats(batchCount * keyLength * valueDim, 3);
        float[] gradOutput = GpuTestSupport.RandomFloats(batchCount * queryLength * valueDim, 4);
        var (bias, offsets, rowStride, columnStride) = MakeBias(biasKind, batchCount, queryLength, keyLength);

        int outputCount = batchCount * queryLength * valueDim, rows = batchCount * queryLength;
        var expectedOutput = new float[outputCount];
        var expectedLse = new float[rows];
        var expectedGradQuery = new float[q.Length];
        var expectedGradKey = new float[k.Length];
        var expectedGradValue = new float[v.Length];
        var expectedGradScores = new float[rows * keyLength];
        bool wantScores = biasKind != BiasKind.None;
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pb = bias, po = expectedOutput, pl = expectedLse, pg = gradOutput,
                   gq = expectedGradQuery, gk = expectedGradKey, gv = expectedGradValue, gs = expectedGradScores)
            {
                CpuAttention.Bias? view = biasKind == BiasKind.None ? null : new CpuAttention.Bias(pb, offsets.Select(o => (long)o).ToArray(), rowStride, columnStride);
                CpuAttention.Forward(pq, pk, pv, view, batchCount, queryLength, keyLength, headDim, valueDim, scale, causal, po, pl);
                CpuAttention.Backward(pq, pk, pv, view, po, pl, pg, batchCount, queryLength, keyLength, headDim, valueDim, scale, causal,
                    gq, gk, gv, wantScores ? gs : null);
            }
        }

        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 11 });
        using var launcher = new KernelLauncher(driver);
        using var dq = DeviceBuffer<float>.From(driver, q);
        using var dk = DeviceBuffer<float>.From(driver, k);
        using var dv = DeviceBuffer<float>.From(driver, v);
        using var db = DeviceBuffer<float>.From(driver, bias);
        using var dOffsets = DeviceBuffer<int>.From(driver, offsets);
        using var output = DeviceBuffer<float>.Allocate(driver, outputCount);
        using var lse = DeviceBuffer<float>.Allocate(driver, rows);
        DeviceSpan<float> biasView = biasKind == BiasKind.None ? default : db.View;
        GpuAttention.Forward(launcher, dq.View, dk.View, dv.View, biasView, dOffsets.View, rowStride, columnStride,
            batchCount, queryLength, keyLength, headDim, valueDim, scale, causal, output.View, lse.View);
        OpsAssert.Close(expectedOutput, output.ToArray(), 2e-6f, 1e-5f, "attention output");
        OpsAssert.Close(expectedLse, lse.ToArray(), 2e-6f, 1e-5f, "attention log-sum-exp");

        using var go = DeviceBuffer<float>.From(driver, gradOutput);
        using var delta = DeviceBuffer<float>.Allocate(driver, rows);
        using var gradQuery = DeviceBuffer<float>.Allocate(driver, q.Length);
        using var gradKey = DeviceBuffer<float>.Allocate(driver, k.Length);
        using var gradValue = DeviceBuffer<float>.Allocate(driver, v.Length);
        // The bias gradient goes through the bias's own (broadcast) strides: the score gradient summed over broadcast dims.
        var expectedGradBias = new float[bias.Length];
        for (int b = 0; b < batchCount; b++)
            for (int i = 0; i < queryLength; i++)
                for (int j = 0; j < keyLength; j++)
                    expectedGradBias[offsets[b] + i * rowStride + j * columnStride] += expectedGradScores[(b * queryLength + i) * keyLength + j];
        using var gradBias = DeviceBuffer<float>.From(driver, new float[bias.Length]);
        GpuAttention.Backward(launcher, dq.View, dk.View, dv.View, biasView, dOffsets.View, rowStride, columnStride,
            output.View, lse.View, go.View, batchCount, queryLength, keyLength, headDim, valueDim, scale, causal,
            delta.View, gradQuery.View, gradKey.View, gradValue.View, wantScores ? gradBias.View : default, dOffsets.View, rowStride, columnStride);
        OpsAssert.Close(expectedGradQuery, gradQuery.ToArray(), 5e-6f, 1e-4f, "attention gradQuery");
        OpsAssert.Close(expectedGradKey, gradKey.ToArray(), 5e-6f, 1e-4f, "attention gradKey");
        OpsAssert.Close(expectedGradValue, gradValue.ToArray(), 5e-6f, 1e-4f, "attention gradValue");
        if (wantScores)
            OpsAssert.Close(expectedGradBias, gradBias.ToArray(), 5e-6f, 1e-4f, "attention gradBias");
    }

    [Fact]
    public void HeadDimBeyondTheRegisterTileIsRejected()
    {
        var error = Assert.Throws<Tessera.Engine.TensorShapeException>(() => GpuAttention.CheckDims(FlashAttention.MaxHeadDim + 1, 8));
        Assert.Contains("at most 128", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A bias buffer with per-batch offsets and strides, in the layout the kernels read.</summary>
    private static (float[] Bias, int[] Offsets, int RowStride, int ColumnStride) MakeBias(BiasKind kind, int batchCount, int queryLength, int keyLength)
    {
        switch (kind)
        {
            case BiasKind.Full:
            case BiasKind.WithInfinities:
            {
                float[] bias = GpuTestSupport.RandomFloats(batchCount * queryLength * keyLength, 5, -1.5f, 1.5f);
                if (kind == BiasKind.WithInfinities)
                {
                    for (int i = 1; i < queryLength; i++)
                        bias[i * keyLength + 2] = float.NegativeInfinity;
                    for (int j = 0; j < keyLength; j++)
                        bias[3 * keyLength + j] = float.NegativeInfinity;   // row 3 sees nothing
                }
                return (bias, Enumerable.Range(0, batchCount).Select(b => b * queryLength * keyLength).ToArray(), keyLength, 1);
            }
            case BiasKind.KeyRow:
                return (GpuTestSupport.RandomFloats(keyLength, 6), new int[batchCount], 0, 1);
            default:
                return ([0f], new int[batchCount], 0, 0);
        }
    }
}
