using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>How a loss reduces its per-element values (PyTorch's reduction argument).</summary>
public enum Reduction
{
    /// <summary>The per-element losses, unreduced.</summary>
    None,

    /// <summary>The mean (for cross entropy with class weights: the weighted mean).</summary>
    Mean,

    /// <summary>The sum.</summary>
    Sum,

    /// <summary>The sum divided by the batch size (dim 0); kl_div only.</summary>
    BatchMean,
}

/// <summary>Classification and regression losses.</summary>
public static partial class Functional
{
    /// <summary>
    /// torch.nn.functional.cross_entropy over logits [N, C] or [N, C, d1, ...] (or [C]). target is
    /// either int64 class indices of shape [N] / [N, d1, ...] (entries equal to
    /// <paramref name="ignoreIndex"/> are skipped, and the mean is weighted by the target classes'
    /// weights) or float32 class probabilities of the logits' shape. labelSmoothing in [0, 1] mixes
    /// the target with the uniform distribution, with PyTorch 1.13's formulas.
    /// </summary>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100,
        Reduction reduction = Reduction.Mean, float labelSmoothing = 0f)
    {
        const string op = "cross_entropy";
        input.ExpectFloat(op, nameof(input));
        CheckReduction(op, reduction);
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"{op}: 'labelSmoothing' expected a value in [0, 1], found {labelSmoothing}");
        if (input.Rank == 0)
            throw new TensorShapeException($"{op}: 'input' expected logits of shape [N, C, ...] or [C], found a 0-dim tensor", nameof(input));
        if (input.Rank == 1)
        {
            // Unbatched [C] logits: the class dim is 0; treat as a batch of one.
            var loss = CrossEntropy(Unsqueeze(input, 0), Unsqueeze(target, 0), weight, ignoreIndex, reduction, labelSmoothing);
            return reduction == Reduction.None ? Squeeze(loss, 0) : loss;
        }
        int classCount = input.Size(1);
        CheckChannelVector(op, nameof(weight), weight, classCount);
        int[] weightShape = ChannelShape(input.Rank, classCount);
        if (input.Device.IsGpu && target.DType == DType.Int64 && weight is not { RequiresGrad: true })
            return CrossEntropyGpu(input, target, weight, ignoreIndex, reduction, labelSmoothing);
        var logProbs = LogSoftmax(input, 1);
        if (target.DType == DType.Float32)
        {
            if (!Shapes.Equal(target.Shape, input.Shape))
                throw new TensorShapeException($"{op}: float 'target' (class probabilities) expected the input's shape {Shapes.Format(input.Shape)}, found {Shapes.Format(target.Shape)}", nameof(target));
            var probabilities = labelSmoothing > 0f ? target * (1f - labelSmoothing) + labelSmoothing / classCount : target;
            var terms = logProbs * probabilities;
            if (weight is not null) terms = terms * Reshape(weight, weightShape);
            return reduction switch
            {
                Reduction.None => -Sum(terms, 1),
                Reduction.Sum => -Sum(terms),
                _ => -Sum(terms) / (input.Numel / Math.Max(classCount, 1)),
            };
        }
        if (target.DType != DType.Int64)
            throw new TensorDTypeException($"{op}: 'target' expected int64 class indices or float32 class probabilities, found {target.DType.Name()}; convert indices with ToLong()", nameof(target));
        var (nll, targetWeight) = NllCore(logProbs, target, weight, ignoreIndex, op);
        var nllReduced = ReduceWeighted(nll, targetWeight, reduction);
        if (labelSmoothing == 0f)
            return nllReduced;
        var smooth = -Sum(weight is null ? logProbs : logProbs * Reshape(weight, weightShape), 1);
        smooth = Where(Equal(target.ToFloat(), ignoreIndex), 0f, smooth);
        var smoothReduced = ReduceWeighted(smooth, targetWeight, reduction);
        return nllReduced * (1f - labelSmoothing) + smoothReduced * (labelSmoothing / classCount);
    }

    /// <summary>
    /// torch.nn.functional.nll_loss over log-probabilities [N, C, ...] and int64 targets [N, ...]:
    /// -weight[t] * input[n, t, ...], skipping <paramref name="ignoreIndex"/>; Mean divides by the
    /// summed weights of the counted targets.
    /// </summary>
    public static Tensor NllLoss(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        const string op = "nll_loss";
        input.ExpectFloat(op, nameof(input));
        CheckReduction(op, reduction);
        if (input.Rank < 2)
            throw new TensorShapeException($"{op}: 'input' expected log-probabilities of shape [N, C, ...], found {Shapes.Format(input.Shape)}", nameof(input));
        CheckChannelVector(op, nameof(weight), weight, input.Size(1));
        if (target.DType != DType.Int64)
            throw new TensorDTypeException($"{op}: 'target' expected int64 class indices, found {target.DType.Name()}; convert with ToLong()", nameof(target));
        var (loss, targetWeight) = NllCore(input, target, weight, ignoreIndex, op);
        return ReduceWeighted(loss, targetWeight, reduction);
    }

    /// <summary>
    /// torch.nn.functional.binary_cross_entropy_with_logits, in the stable form
    /// (1 - t) x + (1 + (posWeight - 1) t) (log(1 + exp(-|x|)) + max(-x, 0)); weight broadcasts
    /// to the input, posWeight along the last (class) dim.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight = null, Tensor? posWeight = null, Reduction reduction = Reduction.Mean)
    {
        const string op = "binary_cross_entropy_with_logits";
        CheckPair(op, input, target);
        CheckReduction(op, reduction);
        CheckBroadcastsTo(op, nameof(weight), weight, input);
        CheckBroadcastsTo(op, nameof(posWeight), posWeight, input);
        if (input.Device.IsGpu && weight is null && posWeight is null)
            return PointwiseLossGpu(new Kernels.Gpu.LogitBinaryCrossEntropy(), input, target, reduction, op);
        var softplusNegative = Log(1f + Exp(-Abs(input))) + Relu(-input);
        var logWeight = posWeight is null ? null : (posWeight - 1f) * target + 1f;
        var loss = (1f - target) * input + (logWeight is null ? softplusNegative : logWeight * softplusNegative);
        if (weight is not null) loss = loss * weight;
        return ApplyReduction(loss, reduction);
    }

    /// <summary>torch.nn.functional.mse_loss: (input - target)^2; input and target of one shape.</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        const string op = "mse_loss";
        CheckPair(op, input, target);
        CheckReduction(op, reduction);
        if (input.Device.IsGpu)
            return PointwiseLossGpu(new Kernels.Gpu.SquaredError(), input, target, reduction, op);
        var difference = input - target;
        return ApplyReduction(difference * difference, reduction);
    }

    /// <summary>torch.nn.functional.l1_loss: |input - target|; input and target of one shape.</summary>
    public static Tensor L1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        const string op = "l1_loss";
        CheckPair(op, input, target);
        CheckReduction(op, reduction);
        if (input.Device.IsGpu)
            return PointwiseLossGpu(new Kernels.Gpu.AbsoluteError(), input, target, reduction, op);
        return ApplyReduction(Abs(input - target), reduction);
    }

    /// <summary>
    /// torch.nn.functional.smooth_l1_loss: 0.5 d^2 / beta where |d| &lt; beta, else |d| - 0.5 beta,
    /// d = input - target; beta = 0 gives the L1 loss.
    /// </summary>
    public static Tensor SmoothL1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, float beta = 1f)
    {
        const string op = "smooth_l1_loss";
        CheckPair(op, input, target);
        CheckReduction(op, reduction);
        if (!(beta >= 0f) || float.IsInfinity(beta))
            throw new ArgumentOutOfRangeException(nameof(beta), beta, $"{op}: 'beta' expected a non-negative finite number, found {beta}");
        if (input.Device.IsGpu)
            return beta == 0f ? PointwiseLossGpu(new Kernels.Gpu.AbsoluteError(), input, target, reduction, op)
                : PointwiseLossGpu(new Kernels.Gpu.SmoothAbsoluteError(beta), input, target, reduction, op);
        var difference = input - target;
        var magnitude = Abs(difference);
        if (beta == 0f)
            return ApplyReduction(magnitude, reduction);
        var loss = Where(Less(magnitude, beta), difference * difference * (0.5f / beta), magnitude - 0.5f * beta);
        return ApplyReduction(loss, reduction);
    }

    /// <summary>
    /// torch.nn.functional.kl_div with input = log-probabilities: target (log target - input), with
    /// 0 where target = 0; <paramref name="logTarget"/> means target holds log-probabilities.
    /// BatchMean divides the sum by the batch size (the KL divergence proper).
    /// </summary>
    public static Tensor KlDiv(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, bool logTarget = false)
    {
        const string op = "kl_div";
        CheckPair(op, input, target);
        if (reduction != Reduction.BatchMean)
            CheckReduction(op, reduction);
        if (input.Device.IsGpu)
            return logTarget ? PointwiseLossGpu(new Kernels.Gpu.LogKlDivergence(), input, target, reduction, op)
                : PointwiseLossGpu(new Kernels.Gpu.KlDivergence(), input, target, reduction, op);
        Tensor loss;
        if (logTarget)
        {
            loss = Exp(target) * (target - input);
        }
        else
        {
            var positive = Greater(target, 0f);
            loss = Where(positive, target * Log(Where(positive, target, 1f)), 0f) - target * input;
        }
        if (reduction == Reduction.BatchMean)
            return input.Rank == 0 ? Sum(loss) : Sum(loss) / input.Size(0);
        return ApplyReduction(loss, reduction);
    }

    /// <summary>Per-element NLL and the weight each element counts with (0 when ignored).</summary>
    private static unsafe (Tensor Loss, Tensor TargetWeight) NllCore(Tensor logProbs, Tensor target, Tensor? weight, long ignoreIndex, string op)
    {
        if (logProbs.Device.IsGpu)
            return NllCoreGpu(logProbs, target, weight, ignoreIndex, op);
        int batchSize = logProbs.Size(0), classCount = logProbs.Size(1);
        int[] expected = [batchSize, .. logProbs.ShapeArray[2..]];
        if (!Shapes.Equal(target.Shape, expected))
            throw new TensorShapeException($"{op}: 'target' (class indices) expected shape {Shapes.Format(expected)} for input of shape {Shapes.Format(logProbs.Shape)}, found {Shapes.Format(target.Shape)}", nameof(target));
        var targets = target.Contiguous();
        var indices = targets.AsSpan<long>();
        for (int i = 0; i < indices.Length; i++)
        {
            long t = indices[i];
            if (t != ignoreIndex && (t < 0 || t >= classCount))
                throw new ArgumentOutOfRangeException(nameof(target), t, $"{op}: 'target' expected class indices in [0, {classCount - 1}] or the ignore index {ignoreIndex}, found {t} at flat position {i}");
        }
        int innerSize = batchSize == 0 ? 0 : target.Numel / batchSize;
        var x = logProbs.Contiguous();
        var w = weight?.Contiguous();
        var loss = Tensor.Allocate(expected, DType.Float32, logProbs.Device, zero: false);
        var targetWeight = Tensor.Allocate(expected, DType.Float32, logProbs.Device, zero: false);
        Kernels.Cpu.NllLoss.Forward(x.Pointer<float>(), targets.Pointer<long>(), w is null ? null : w.Pointer<float>(),
            batchSize, classCount, innerSize, ignoreIndex, loss.Pointer<float>(), targetWeight.Pointer<float>());
        int[] inputShape = logProbs.ShapeArray;
        loss = AutogradEngine.Record(loss, op, [logProbs], g =>
        {
            var gradLoss = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, gradLoss.Device, zero: true);
            Kernels.Cpu.NllLoss.Backward(gradLoss.Pointer<float>(), targetWeight.Pointer<float>(), targets.Pointer<long>(),
                batchSize, classCount, innerSize, ignoreIndex, gradInput.Pointer<float>());
            return [gradInput];
        });
        return (loss, targetWeight);
    }

    /// <summary>Mean = sum(loss) / sum(weights) (NaN when every target is ignored, as in PyTorch).</summary>
    private static Tensor ReduceWeighted(Tensor loss, Tensor targetWeight, Reduction reduction) => reduction switch
    {
        Reduction.None => loss,
        Reduction.Sum => Sum(loss),
        _ => Sum(loss) / Sum(targetWeight),
    };

    private static Tensor ApplyReduction(Tensor loss, Reduction reduction) => reduction switch
    {
        Reduction.None => loss,
        Reduction.Sum => Sum(loss),
        _ => Mean(loss),
    };

    private static void CheckReduction(string op, Reduction reduction)
    {
        if (reduction is not (Reduction.None or Reduction.Mean or Reduction.Sum))
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, $"{op}: 'reduction' expected None, Mean or Sum, found {reduction} (BatchMean is for kl_div only)");
    }

    private static void CheckPair(string op, Tensor input, Tensor target)
    {
        input.ExpectFloat(op, nameof(input));
        target.ExpectFloat(op, nameof(target));
        CheckSameDevice(op, input, target);
        if (!Shapes.Equal(input.Shape, target.Shape))
            throw new TensorShapeException($"{op}: 'target' expected the input's shape {Shapes.Format(input.Shape)}, found {Shapes.Format(target.Shape)}", nameof(target));
    }

    private static void CheckBroadcastsTo(string op, string argument, Tensor? t, Tensor input)
    {
        if (t is null) return;
        t.ExpectFloat(op, argument);
        int[] shape = Shapes.Broadcast(t.Shape, input.Shape, op);
        if (!Shapes.Equal(shape, input.Shape))
            throw new TensorShapeException($"{op}: '{argument}' of shape {Shapes.Format(t.Shape)} expected to broadcast to the input's shape {Shapes.Format(input.Shape)}", argument);
    }
}
