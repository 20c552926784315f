using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Autograd;

/// <summary>Dropout and drop-path (stochastic depth), with masks from the counter-based Philox stream.</summary>
public static partial class Functional
{
    /// <summary>
    /// torch.nn.functional.dropout: in training, zeroes each element with probability
    /// <paramref name="p"/> and scales the rest by 1 / (1 - p); identity in evaluation or when p = 0;
    /// zeros when p = 1. The mask comes from <paramref name="generator"/> (the default stream when
    /// null), so a seed gives the same mask whatever the thread count; the backward reuses it.
    /// </summary>
    public static Tensor Dropout(Tensor input, float p = 0.5f, bool training = true, Generator? generator = null)
    {
        const string op = "dropout";
        input.ExpectFloat(op, "input");
        CheckProbability(op, p);
        if (!training || p == 0f)
            return input;
        var mask = BernoulliMask(input.Shape, p, generator, input.Device);
        return input * mask;
    }

    /// <summary>
    /// Stochastic depth (timm drop_path): in training, zeroes each sample (index along dim 0) of
    /// <paramref name="input"/> with probability <paramref name="p"/> and scales the kept ones by
    /// 1 / (1 - p); identity in evaluation or when p = 0; zeros when p = 1.
    /// </summary>
    public static Tensor DropPath(Tensor input, float p = 0f, bool training = true, Generator? generator = null)
    {
        const string op = "drop_path";
        input.ExpectFloat(op, "input");
        CheckProbability(op, p);
        if (input.Rank == 0)
            throw new TensorShapeException($"{op}: 'input' expected a tensor with a batch dim (rank 1 or more), found a 0-dim tensor", nameof(input));
        if (!training || p == 0f)
            return input;
        var maskShape = new int[input.Rank];
        Array.Fill(maskShape, 1);
        maskShape[0] = input.Size(0);
        var mask = BernoulliMask(maskShape, p, generator, input.Device);
        return input * mask;
    }

    /// <summary>A float mask of 1 / (1 - p) (kept) and 0 (dropped); all zeros when p = 1. On a GPU the same Philox blocks give the same mask as on the CPU.</summary>
    private static unsafe Tensor BernoulliMask(ReadOnlySpan<int> shape, float p, Generator? generator, Device device)
    {
        generator ??= Generator.Default;
        var mask = Tensor.Allocate(shape, DType.Float32, device, zero: false);
        float keep = 1f - p;
        float scale = keep > 0f ? 1f / keep : 0f;
        ulong first = generator.Reserve(mask.Numel);
        if (device.IsGpu)
            Kernels.Gpu.GpuRouting.BernoulliMask(mask.Gpu.Launcher, generator.Seed, first, keep, scale, mask.DeviceView<float>());
        else
            Kernels.Cpu.Dropout.BernoulliMask(generator.Seed, first, keep, scale, mask.Numel, mask.Pointer<float>());
        return mask;
    }

    private static void CheckProbability(string op, float p)
    {
        if (!(p >= 0f && p <= 1f))
            throw new ArgumentOutOfRangeException(nameof(p), p, $"{op}: 'p' expected a probability in [0, 1], found {p}");
    }
}
