using System.Reflection;
using Tessera.Engine;
using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Host side of <see cref="FlashAttention"/>: checks the dims, sizes grids and dynamic shared
/// memory, and launches. Same contract as the CPU kernel (Kernels.Cpu.Attention); the bias is a
/// strided view (empty for none) with one element offset per batch.
/// </summary>
public static class GpuAttention
{
    private static readonly MethodInfo s_forward = typeof(FlashAttention).GetMethod(nameof(FlashAttention.Forward))!;
    private static readonly MethodInfo s_delta = typeof(FlashAttention).GetMethod(nameof(FlashAttention.BackwardDelta))!;
    private static readonly MethodInfo s_keyValue = typeof(FlashAttention).GetMethod(nameof(FlashAttention.BackwardKeyValue))!;
    private static readonly MethodInfo s_query = typeof(FlashAttention).GetMethod(nameof(FlashAttention.BackwardQuery))!;
    private static readonly MethodInfo s_maskToBias = typeof(FlashAttention).GetMethod(nameof(FlashAttention.MaskToBias))!;

    /// <summary>bias[i] = keep[i] ? 0 : -inf for the first bias.Length bool bytes of keep. Overwrites bias.</summary>
    public static void MaskToBias(KernelLauncher launcher, DeviceSpan<byte> keep, DeviceSpan<float> bias)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (bias.Length > 0)
            launcher.Launch(KernelCompiler.Compile(s_maskToBias, launcher.Target), (bias.Length + 255) / 256, 256, 0, keep, bias);
    }

    /// <summary>Throws when a dim is beyond what the kernels hold in registers.</summary>
    public static void CheckDims(int headDim, int valueDim)
    {
        if (headDim > FlashAttention.MaxHeadDim || valueDim > FlashAttention.MaxHeadDim)
            throw new TensorShapeException($"scaled_dot_product_attention on a GPU: head dim and value dim expected at most {FlashAttention.MaxHeadDim} (one register slot per 32 columns), found head dim {headDim} and value dim {valueDim}; split the heads further or run on the CPU");
    }

    /// <summary>Overwrites output [batch, queryLength, valueDim] and logSumExp [batch, queryLength].</summary>
    public static void Forward(KernelLauncher launcher, DeviceSpan<float> query, DeviceSpan<float> key, DeviceSpan<float> value,
        DeviceSpan<float> bias, DeviceSpan<int> biasBatchOffsets, int biasRowStride, int biasColumnStride,
        int batchCount, int queryLength, int keyLength, int headDim, int valueDim, float scale, bool causal,
        DeviceSpan<float> output, DeviceSpan<float> logSumExp)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        CheckDims(headDim, valueDim);
        if (batchCount == 0 || queryLength == 0)
            return;
        int shared = FlashAttention.QueryRows * headDim + FlashAttention.KeyTile * (headDim + 1) + FlashAttention.KeyTile * valueDim;
        launcher.Launch(KernelCompiler.Compile(s_forward, launcher.Target),
            new Dim3((queryLength + FlashAttention.QueryRows - 1) / FlashAttention.QueryRows, batchCount), FlashAttention.Threads, shared * sizeof(float),
            query, key, value, bias, biasBatchOffsets, biasRowStride, biasColumnStride,
            queryLength, keyLength, headDim, valueDim, scale, causal ? 1 : 0, output, logSumExp);
    }

    /// <summary>
    /// Overwrites gradQuery, gradKey and gradValue; when gradBias is not empty, adds the bias
    /// gradient into it through its broadcast strides (zero it first; not with causal). delta is a
    /// workspace of batch·queryLength floats.
    /// </summary>
    public static void Backward(KernelLauncher launcher, DeviceSpan<float> query, DeviceSpan<float> key, DeviceSpan<float> value,
        DeviceSpan<float> bias, DeviceSpan<int> biasBatchOffsets, int biasRowStride, int biasColumnStride,
        DeviceSpan<float> output, DeviceSpan<float> logSumExp, DeviceSpan<float> gradOutput,
        int batchCount, int queryLength, int keyLength, int headDim, int valueDim, float scale, bool causal,
        DeviceSpan<float> delta, DeviceSpan<float> gradQuery, DeviceSpan<float> gradKey, DeviceSpan<float> gradValue,
        DeviceSpan<float> gradBias, DeviceSpan<int> gradBiasBatchOffsets, int gradBiasRowStride, int gradBiasColumnStride)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        CheckDims(headDim, valueDim);
        if (causal && gradBias.Length > 0)
            throw new ArgumentException("scaled_dot_product_attention backward: a score gradient (for an additive mask) cannot be combined with causal = true", nameof(gradBias));
        if (batchCount == 0)
            return;
        int rows = batchCount * queryLength;
        int causalFlag = causal ? 1 : 0;
        if (rows > 0)
        {
            launcher.Launch(KernelCompiler.Compile(s_delta, launcher.Target), (rows + 3) / 4, 128, 0,
                output, gradOutput, rows, valueDim, delta);
        }
        int shared = (FlashAttention.QueryRows * (headDim + valueDim) + FlashAttention.KeyTile * (headDim + valueDim + 2)) * sizeof(float);
        if (keyLength > 0)
        {
            launcher.Launch(KernelCompiler.Compile(s_keyValue, launcher.Target),
                new Dim3((keyLength + FlashAttention.KeyRows - 1) / FlashAttention.KeyRows, batchCount), FlashAttention.Threads, shared,
                query, key, value, bias, biasBatchOffsets, biasRowStride, biasColumnStride, logSumExp, delta, gradOutput,
                queryLength, keyLength, headDim, valueDim, scale, causalFlag, gradKey, gradValue);
        }
        if (queryLength > 0)
        {
            launcher.Launch(KernelCompiler.Compile(s_query, launcher.Target),
                new Dim3((queryLength + FlashAttention.QueryRows - 1) / FlashAttention.QueryRows, batchCount), FlashAttention.Threads, shared,
                query, key, value, bias, biasBatchOffsets, biasRowStride, biasColumnStride, logSumExp, delta, gradOutput,
                queryLength, keyLength, headDim, valueDim, scale, causalFlag, gradQuery, gradBias, gradBiasBatchOffsets, gradBiasRowStride, gradBiasColumnStride);
        }
    }
}
