using System.Runtime.InteropServices;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Gpu;
using GpuCrossEntropy = Tessera.Kernels.Gpu.CrossEntropy;
using GpuNllLoss = Tessera.Kernels.Gpu.NllLoss;

namespace Tessera.Autograd;

/// <summary>
/// The GPU paths of the losses: fused kernels that compute the loss (and its sum or mean) in one
/// pass and the input and target gradients in another, instead of the CPU ops' chains of
/// elementwise ops; cross entropy with class indices in one pass over the logits.
/// </summary>
public static partial class Functional
{
    /// <summary>A pointwise loss on the GPU: per-element values or their scaled sum, with input and target gradients.</summary>
    private static Tensor PointwiseLossGpu<TLoss>(TLoss loss, Tensor input, Tensor target, Reduction reduction, string op)
        where TLoss : struct, IPointwiseLoss
    {
        GpuContext gpu = input.Gpu;
        var x = input.Contiguous();
        var t = target.Contiguous();
        int count = x.Numel;
        float scale = reduction switch
        {
            Reduction.Mean => 1f / count,
            Reduction.BatchMean => input.Rank == 0 ? 1f : 1f / input.Size(0),
            _ => 1f,
        };
        Tensor output;
        if (reduction == Reduction.None)
        {
            output = Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false);
            PointwiseLoss.LaunchElements(gpu.Launcher, loss, x.DeviceView<float>(), t.DeviceView<float>(), output.DeviceView<float>());
        }
        else
        {
            output = Tensor.Allocate([], DType.Float32, input.Device, zero: false);
            int partialCount = PointwiseLoss.PartialCount(count);
            GpuStorage partials = gpu.Allocate((long)partialCount * sizeof(double), zero: false);
            try
            {
                PointwiseLoss.LaunchSum(gpu.Launcher, loss, x.DeviceView<float>(), t.DeviceView<float>(), scale,
                    DeviceSpan<double>.FromAddress(partials.Pointer.Address, partialCount), output.DeviceView<float>());
            }
            finally
            {
                partials.Release();
            }
        }
        float gradScale = reduction == Reduction.None ? 1f : scale;
        return AutogradEngine.Record(output, op, [input, target], g =>
        {
            var gradOutput = g.Contiguous();
            var gradInput = input.RequiresGrad ? Tensor.Allocate(input.Shape, DType.Float32, input.Device, zero: false) : null;
            var gradTarget = target.RequiresGrad ? Tensor.Allocate(target.Shape, DType.Float32, target.Device, zero: false) : null;
            PointwiseLoss.LaunchBackward(gpu.Launcher, loss, x.DeviceView<float>(), t.DeviceView<float>(), gradOutput.DeviceView<float>(), gradScale,
                gradInput is null ? default : gradInput.DeviceView<float>(), gradTarget is null ? default : gradTarget.DeviceView<float>());
            return [gradInput, gradTarget];
        });
    }

    /// <summary>Cross entropy with int64 class targets on the GPU (logits [N, C, ...]); the caller validated input, weight and reduction.</summary>
    private static Tensor CrossEntropyGpu(Tensor input, Tensor target, Tensor? weight, long ignoreIndex, Reduction reduction, float labelSmoothing)
    {
        const string op = "cross_entropy";
        var (targets, batchSize, classCount, innerSize) = CheckClassTargetsGpu(input, target, weight, ignoreIndex, op);
        GpuContext gpu = input.Gpu;
        var x = input.Contiguous();
        var w = weight?.Contiguous();
        int[] positionShape = targets.ShapeArray;
        var loss = Tensor.Allocate(positionShape, DType.Float32, input.Device, zero: false);
        var targetWeight = Tensor.Allocate(positionShape, DType.Float32, input.Device, zero: false);
        var logSumExp = Tensor.Allocate(positionShape, DType.Float32, input.Device, zero: false);
        GpuCrossEntropy.Forward(gpu.Launcher, x.DeviceView<float>(), targets.DeviceView<long>(), ViewOrEmpty(w), classCount, innerSize, ignoreIndex, labelSmoothing,
            loss.DeviceView<float>(), targetWeight.DeviceView<float>(), logSumExp.DeviceView<float>());
        int code = reduction switch { Reduction.None => GpuCrossEntropy.ReductionNone, Reduction.Sum => GpuCrossEntropy.ReductionSum, _ => GpuCrossEntropy.ReductionMean };
        Tensor output = loss;
        var totals = Tensor.Allocate([2], DType.Float32, input.Device, zero: false);
        if (reduction != Reduction.None)
        {
            int partialCount = 2 * PointwiseLoss.PartialCount(loss.Numel);
            GpuStorage partials = gpu.Allocate((long)partialCount * sizeof(double), zero: false);
            try
            {
                GpuCrossEntropy.Reduce(gpu.Launcher, loss.DeviceView<float>(), targetWeight.DeviceView<float>(), code,
                    DeviceSpan<double>.FromAddress(partials.Pointer.Address, partialCount), totals.DeviceView<float>());
            }
            finally
            {
                partials.Release();
            }
            output = totals.View([], [], 0);
        }
        int[] inputShape = input.ShapeArray;
        return AutogradEngine.Record(output, op, [input], g =>
        {
            var gradOutput = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, input.Device, zero: false);
            GpuCrossEntropy.Backward(gpu.Launcher, x.DeviceView<float>(), targets.DeviceView<long>(), ViewOrEmpty(w), targetWeight.DeviceView<float>(),
                logSumExp.DeviceView<float>(), gradOutput.DeviceView<float>(), totals.DeviceView<float>(), classCount, innerSize, ignoreIndex, labelSmoothing,
                code, gradInput.DeviceView<float>());
            return [gradInput];
        });
    }

    /// <summary>NllCore on the GPU: per-position loss and target weight, with the NLL backward.</summary>
    private static (Tensor Loss, Tensor TargetWeight) NllCoreGpu(Tensor logProbs, Tensor target, Tensor? weight, long ignoreIndex, string op)
    {
        var (targets, _, classCount, innerSize) = CheckClassTargetsGpu(logProbs, target, weight, ignoreIndex, op);
        GpuContext gpu = logProbs.Gpu;
        var x = logProbs.Contiguous();
        var w = weight?.Contiguous();
        var loss = Tensor.Allocate(targets.Shape, DType.Float32, logProbs.Device, zero: false);
        var targetWeight = Tensor.Allocate(targets.Shape, DType.Float32, logProbs.Device, zero: false);
        GpuNllLoss.Forward(gpu.Launcher, x.DeviceView<float>(), targets.DeviceView<long>(), ViewOrEmpty(w), classCount, innerSize, ignoreIndex,
            loss.DeviceView<float>(), targetWeight.DeviceView<float>());
        int[] inputShape = logProbs.ShapeArray;
        loss = AutogradEngine.Record(loss, op, [logProbs], g =>
        {
            var gradLoss = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, logProbs.Device, zero: true);
            GpuNllLoss.Backward(gpu.Launcher, gradLoss.DeviceView<float>(), targetWeight.DeviceView<float>(), targets.DeviceView<long>(), classCount, innerSize,
                ignoreIndex, gradInput.DeviceView<float>());
            return [gradInput];
        });
        return (loss, targetWeight);
    }

    /// <summary>
    /// The target checks of NllCore on the device: shape [N, d1, ...], same device, every index
    /// in [0, C) or the ignore index (found by a kernel; only the first bad position comes back).
    /// </summary>
    private static (Tensor Targets, int BatchSize, int ClassCount, int InnerSize) CheckClassTargetsGpu(Tensor logits, Tensor target, Tensor? weight, long ignoreIndex, string op)
    {
        CheckSameDevice(op, [logits, target, .. weight is null ? Array.Empty<Tensor>() : [weight]]);
        int batchSize = logits.Size(0), classCount = logits.Size(1);
        int[] expected = [batchSize, .. logits.ShapeArray[2..]];
        if (!Shapes.Equal(target.Shape, expected))
            throw new TensorShapeException($"{op}: 'target' (class indices) expected shape {Shapes.Format(expected)} for input of shape {Shapes.Format(logits.Shape)}, found {Shapes.Format(target.Shape)}", nameof(target));
        var targets = target.Contiguous();
        GpuContext gpu = logits.Gpu;
        using var firstInvalid = Tensor.FromArray(new[] { int.MaxValue }).To(logits.Device);
        GpuNllLoss.CheckTargets(gpu.Launcher, targets.DeviceView<long>(), classCount, ignoreIndex, firstInvalid.DeviceView<int>());
        int position = firstInvalid.ToArray<int>()[0];
        if (position != int.MaxValue)
        {
            var value = new long[1];
            gpu.CopyToHost(MemoryMarshal.AsBytes(value.AsSpan()), targets.DeviceAddress.Offset((long)position * sizeof(long)));
            throw new ArgumentOutOfRangeException(nameof(target), value[0], $"{op}: 'target' expected class indices in [0, {classCount - 1}] or the ignore index {ignoreIndex}, found {value[0]} at flat position {position}");
        }
        int innerSize = batchSize == 0 ? 0 : target.Numel / batchSize;
        return (targets, batchSize, classCount, innerSize);
    }
}
