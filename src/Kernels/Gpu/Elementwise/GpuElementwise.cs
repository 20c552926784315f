using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;
using Tessera.Kernels.Cpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Host-side launches of <see cref="ElementwiseKernels"/>: pick the functor for an op, size the
/// grid (one thread per output element, <see cref="ElementwiseKernels.BlockSize"/> per block) and
/// launch. Empty outputs launch nothing.
/// </summary>
public static class GpuElementwise
{
    /// <summary>Blocks for <paramref name="count"/> elements.</summary>
    public static Dim3 Blocks(int count) => (count + ElementwiseKernels.BlockSize - 1) / ElementwiseKernels.BlockSize;

    /// <summary>output = op(input) elementwise; input addressed by operand A of <paramref name="index"/>. Overwrites output.</summary>
    public static void Map(KernelLauncher launcher, UnaryOp op, DeviceSpan<float> input, StridedIndex index, DeviceSpan<float> output)
    {
        switch (op)
        {
            case UnaryOp.Negate: Map(launcher, input, index, new NegateMap(), output); break;
            case UnaryOp.Abs: Map(launcher, input, index, new AbsMap(), output); break;
            case UnaryOp.Exp: Map(launcher, input, index, new ExpMap(), output); break;
            case UnaryOp.Log: Map(launcher, input, index, new LogMap(), output); break;
            case UnaryOp.Sqrt: Map(launcher, input, index, new SqrtMap(), output); break;
            case UnaryOp.Rsqrt: Map(launcher, input, index, new RsqrtMap(), output); break;
            case UnaryOp.Tanh: Map(launcher, input, index, new TanhMap(), output); break;
            case UnaryOp.Sigmoid: Map(launcher, input, index, new SigmoidMap(), output); break;
            case UnaryOp.Relu: Map(launcher, input, index, new ReluMap(), output); break;
            case UnaryOp.GeluErf: Map(launcher, input, index, new GeluErfMap(), output); break;
            case UnaryOp.GeluTanh: Map(launcher, input, index, new GeluTanhMap(), output); break;
            case UnaryOp.Silu: Map(launcher, input, index, new SiluMap(), output); break;
            case UnaryOp.Sign: Map(launcher, input, index, new SignMap(), output); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "GPU map: no kernel for this op");
        }
    }

    /// <summary>output = min(max(input, low), high). Overwrites output.</summary>
    public static void Clamp(KernelLauncher launcher, DeviceSpan<float> input, StridedIndex index, float low, float high, DeviceSpan<float> output) =>
        Map(launcher, input, index, new ClampMap { Low = low, High = high }, output);

    /// <summary>output = input^exponent. Overwrites output.</summary>
    public static void PowScalar(KernelLauncher launcher, DeviceSpan<float> input, StridedIndex index, float exponent, DeviceSpan<float> output) =>
        Map(launcher, input, index, new PowScalarMap { Exponent = exponent }, output);

    /// <summary>Any <see cref="IFloatMap"/> over a strided input. Overwrites output.</summary>
    public static void Map<TOp>(KernelLauncher launcher, DeviceSpan<float> input, StridedIndex index, TOp op, DeviceSpan<float> output)
        where TOp : struct, IFloatMap
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length > 0)
            launcher.Launch(ElementwiseKernels.Map<TOp>, Blocks(output.Length), ElementwiseKernels.BlockSize, input, index, op, output);
    }

    /// <summary>gradInput = gradOutput · op'(input) over dense tensors (ops whose derivative needs the input). Overwrites gradInput.</summary>
    public static void MapBackward(KernelLauncher launcher, UnaryOp op, DeviceSpan<float> input, DeviceSpan<float> gradOutput, DeviceSpan<float> gradInput)
    {
        switch (op)
        {
            case UnaryOp.Abs: MapBackward(launcher, input, gradOutput, new AbsMap(), gradInput); break;
            case UnaryOp.Log: MapBackward(launcher, input, gradOutput, new LogMap(), gradInput); break;
            case UnaryOp.Relu: MapBackward(launcher, input, gradOutput, new ReluMap(), gradInput); break;
            case UnaryOp.GeluErf: MapBackward(launcher, input, gradOutput, new GeluErfMap(), gradInput); break;
            case UnaryOp.GeluTanh: MapBackward(launcher, input, gradOutput, new GeluTanhMap(), gradInput); break;
            case UnaryOp.Silu: MapBackward(launcher, input, gradOutput, new SiluMap(), gradInput); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "GPU map backward: this op's derivative is expressed through its output, not by a kernel");
        }
    }

    private static void MapBackward<TOp>(KernelLauncher launcher, DeviceSpan<float> input, DeviceSpan<float> gradOutput, TOp op, DeviceSpan<float> gradInput)
        where TOp : struct, IFloatMapGradient
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (gradInput.Length > 0)
            launcher.Launch(ElementwiseKernels.MapBackward<TOp>, Blocks(gradInput.Length), ElementwiseKernels.BlockSize, input, gradOutput, op, gradInput);
    }

    /// <summary>output = a op b, both strided/broadcast through operands A and B of <paramref name="index"/>. Overwrites output.</summary>
    public static void Binary(KernelLauncher launcher, BinaryOp op, DeviceSpan<float> a, DeviceSpan<float> b, StridedIndex index, DeviceSpan<float> output)
    {
        switch (op)
        {
            case BinaryOp.Add: Binary<AddOp>(launcher, a, b, index, output); break;
            case BinaryOp.Subtract: Binary<SubtractOp>(launcher, a, b, index, output); break;
            case BinaryOp.Multiply: Binary<MultiplyOp>(launcher, a, b, index, output); break;
            case BinaryOp.Divide: Binary<DivideOp>(launcher, a, b, index, output); break;
            case BinaryOp.Maximum: Binary<MaximumOp>(launcher, a, b, index, output); break;
            case BinaryOp.Minimum: Binary<MinimumOp>(launcher, a, b, index, output); break;
            case BinaryOp.Pow: Binary<PowOp>(launcher, a, b, index, output); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "GPU binary: no kernel for this op");
        }
    }

    private static void Binary<TOp>(KernelLauncher launcher, DeviceSpan<float> a, DeviceSpan<float> b, StridedIndex index, DeviceSpan<float> output)
        where TOp : IBinaryOp<float>
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length > 0)
            launcher.Launch(ElementwiseKernels.Binary<TOp>, Blocks(output.Length), ElementwiseKernels.BlockSize, a, b, index, output);
    }

    /// <summary>
    /// output = tensor op scalar (or scalar op tensor when <paramref name="scalarOnLeft"/>): a binary op
    /// with a host scalar, run as a map so the scalar travels as a kernel parameter. Overwrites output.
    /// </summary>
    public static void BinaryScalar(KernelLauncher launcher, BinaryOp op, DeviceSpan<float> tensor, StridedIndex index, float scalar, bool scalarOnLeft, DeviceSpan<float> output)
    {
        switch (op)
        {
            case BinaryOp.Add: WithScalar<AddOp>(launcher, tensor, index, scalar, scalarOnLeft, output); break;
            case BinaryOp.Subtract: WithScalar<SubtractOp>(launcher, tensor, index, scalar, scalarOnLeft, output); break;
            case BinaryOp.Multiply: WithScalar<MultiplyOp>(launcher, tensor, index, scalar, scalarOnLeft, output); break;
            case BinaryOp.Divide: WithScalar<DivideOp>(launcher, tensor, index, scalar, scalarOnLeft, output); break;
            case BinaryOp.Maximum: WithScalar<MaximumOp>(launcher, tensor, index, scalar, scalarOnLeft, output); break;
            case BinaryOp.Minimum: WithScalar<MinimumOp>(launcher, tensor, index, scalar, scalarOnLeft, output); break;
            case BinaryOp.Pow: WithScalar<PowOp>(launcher, tensor, index, scalar, scalarOnLeft, output); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "GPU binary: no kernel for this op");
        }
    }

    private static void WithScalar<TOp>(KernelLauncher launcher, DeviceSpan<float> tensor, StridedIndex index, float scalar, bool scalarOnLeft, DeviceSpan<float> output)
        where TOp : IBinaryOp<float>
    {
        if (scalarOnLeft)
            Map(launcher, tensor, index, new LeftScalarMap<TOp> { Scalar = scalar }, output);
        else
            Map(launcher, tensor, index, new RightScalarMap<TOp> { Scalar = scalar }, output);
    }

    /// <summary>output = (a op b) as bools, a and b addressed by operands A and B. Overwrites output.</summary>
    public static void Compare(KernelLauncher launcher, CompareOp op, DeviceSpan<float> a, DeviceSpan<float> b, StridedIndex index, DeviceSpan<bool> output)
    {
        switch (op)
        {
            case CompareOp.Equal: Compare<EqualPredicate>(launcher, a, b, index, output); break;
            case CompareOp.NotEqual: Compare<NotEqualPredicate>(launcher, a, b, index, output); break;
            case CompareOp.Less: Compare<LessPredicate>(launcher, a, b, index, output); break;
            case CompareOp.LessEqual: Compare<LessEqualPredicate>(launcher, a, b, index, output); break;
            case CompareOp.Greater: Compare<GreaterPredicate>(launcher, a, b, index, output); break;
            case CompareOp.GreaterEqual: Compare<GreaterEqualPredicate>(launcher, a, b, index, output); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "GPU compare: no kernel for this op");
        }
    }

    private static void Compare<TOp>(KernelLauncher launcher, DeviceSpan<float> a, DeviceSpan<float> b, StridedIndex index, DeviceSpan<bool> output)
        where TOp : IFloatPredicate
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length > 0)
            launcher.Launch(ElementwiseKernels.Compare<TOp>, Blocks(output.Length), ElementwiseKernels.BlockSize, a, b, index, output);
    }

    /// <summary>output = condition ? a : b; condition is operand C of <paramref name="index"/>, a and b operands A and B. Overwrites output.</summary>
    public static void Where(KernelLauncher launcher, DeviceSpan<bool> condition, DeviceSpan<float> a, DeviceSpan<float> b, StridedIndex index, DeviceSpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length > 0)
            launcher.Launch(ElementwiseKernels.Where, Blocks(output.Length), ElementwiseKernels.BlockSize, condition, a, b, index, output);
    }

    /// <summary>output = convert(input) over dense tensors, with the conversion <typeparamref name="TOp"/>. Overwrites output.</summary>
    public static void Cast<TIn, TOut, TOp>(KernelLauncher launcher, DeviceSpan<TIn> input, DeviceSpan<TOut> output)
        where TIn : unmanaged
        where TOut : unmanaged
        where TOp : IConversion<TIn, TOut>
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (output.Length > 0)
            launcher.Launch(ElementwiseKernels.Cast<TIn, TOut, TOp>, Blocks(output.Length), ElementwiseKernels.BlockSize, input, output);
    }

    /// <summary>
    /// Copies the <paramref name="count"/> elements of the index's shape from source (operand A,
    /// from element <paramref name="sourceStart"/>) to destination (operand B, from
    /// <paramref name="destinationStart"/>). Overwrites those destination elements.
    /// </summary>
    public static void Copy<T>(KernelLauncher launcher, DeviceSpan<T> source, int sourceStart, StridedIndex index, int count, DeviceSpan<T> destination, int destinationStart)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(launcher);
        if (count > 0)
            launcher.Launch(ElementwiseKernels.Copy<T>, Blocks(count), ElementwiseKernels.BlockSize, source, index, sourceStart, destinationStart, count, destination);
    }
}
