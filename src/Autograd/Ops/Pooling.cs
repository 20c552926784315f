using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>2-d pooling over [batch, channels, height, width]: max (with indices), average, adaptive average.</summary>
public static partial class Functional
{
    /// <summary>
    /// torch.nn.functional.max_pool2d: the maximum of each kernelSize window (taps every dilation),
    /// windows every stride (default kernelSize), implicit -inf padding of at most kernelSize / 2;
    /// ceilMode lets a last partial window start inside the input or left padding. The gradient goes to the argmax.
    /// </summary>
    public static Tensor MaxPool2d(Tensor input, (int Height, int Width) kernelSize, (int Height, int Width)? stride = null,
        (int Height, int Width)? padding = null, (int Height, int Width)? dilation = null, bool ceilMode = false) =>
        MaxPool2dWithIndices(input, kernelSize, stride, padding, dilation, ceilMode).Values;

    /// <summary>MaxPool2d with a square kernel and the same stride (default kernelSize), padding and dilation on both axes.</summary>
    public static Tensor MaxPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool2d(input, (kernelSize, kernelSize), (stride ?? kernelSize, stride ?? kernelSize), (padding, padding), (dilation, dilation), ceilMode);

    /// <summary>
    /// MaxPool2d that also returns the int64 argmax of each window as a flat index h * width + w
    /// into its input plane (return_indices=True in PyTorch).
    /// </summary>
    public static (Tensor Values, Tensor Indices) MaxPool2dWithIndices(Tensor input, (int Height, int Width) kernelSize,
        (int Height, int Width)? stride = null, (int Height, int Width)? padding = null, (int Height, int Width)? dilation = null, bool ceilMode = false)
    {
        var geometry = PoolGeometry("max_pool2d", input, kernelSize, stride ?? kernelSize, padding ?? (0, 0), dilation ?? (1, 1), ceilMode);
        var x = input.Contiguous();
        int[] outShape = [input.Size(0), input.Size(1), geometry.OutHeight, geometry.OutWidth];
        var values = Tensor.Allocate(outShape, DType.Float32, input.Device, zero: false);
        var indices = Tensor.Allocate(outShape, DType.Int64, input.Device, zero: false);
        if (x.Device.IsGpu)
            GpuPool2d.MaxPoolForward(x.Gpu.Launcher, x.DeviceView<float>(), geometry, values.DeviceView<float>(), indices.DeviceView<long>());
        else
            unsafe { Kernels.Cpu.MaxPool2d.Forward(x.Pointer<float>(), geometry, values.Pointer<float>(), indices.Pointer<long>()); }
        int[] inputShape = input.ShapeArray;
        var result = AutogradEngine.Record(values, "max_pool2d", [input], g =>
        {
            var grad = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, grad.Device, zero: false);
            if (grad.Device.IsGpu)
                GpuPool2d.MaxPoolBackward(grad.Gpu.Launcher, grad.DeviceView<float>(), indices.DeviceView<long>(), geometry, gradInput.DeviceView<float>());
            else
                unsafe { Kernels.Cpu.MaxPool2d.Backward(grad.Pointer<float>(), indices.Pointer<long>(), geometry, gradInput.Pointer<float>()); }
            return [gradInput];
        });
        return (result, indices);
    }

    /// <summary>
    /// torch.nn.functional.avg_pool2d: the mean of each kernelSize window, windows every stride
    /// (default kernelSize), zero padding of at most kernelSize / 2. countIncludePad divides by the
    /// window size clipped to the padded input; otherwise by the number of real input elements.
    /// </summary>
    public static Tensor AvgPool2d(Tensor input, (int Height, int Width) kernelSize, (int Height, int Width)? stride = null,
        (int Height, int Width)? padding = null, bool ceilMode = false, bool countIncludePad = true)
    {
        var geometry = PoolGeometry("avg_pool2d", input, kernelSize, stride ?? kernelSize, padding ?? (0, 0), (1, 1), ceilMode);
        var x = input.Contiguous();
        var y = Tensor.Allocate([input.Size(0), input.Size(1), geometry.OutHeight, geometry.OutWidth], DType.Float32, input.Device, zero: false);
        if (x.Device.IsGpu)
            GpuPool2d.AvgPoolForward(x.Gpu.Launcher, x.DeviceView<float>(), geometry, countIncludePad, y.DeviceView<float>());
        else
            unsafe { Kernels.Cpu.AvgPool2d.Forward(x.Pointer<float>(), geometry, countIncludePad, y.Pointer<float>()); }
        int[] inputShape = input.ShapeArray;
        return AutogradEngine.Record(y, "avg_pool2d", [input], g =>
        {
            var grad = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, grad.Device, zero: false);
            if (grad.Device.IsGpu)
                GpuPool2d.AvgPoolBackward(grad.Gpu.Launcher, grad.DeviceView<float>(), geometry, countIncludePad, gradInput.DeviceView<float>());
            else
                unsafe { Kernels.Cpu.AvgPool2d.Backward(grad.Pointer<float>(), geometry, countIncludePad, gradInput.Pointer<float>()); }
            return [gradInput];
        });
    }

    /// <summary>AvgPool2d with a square kernel and the same stride (default kernelSize) and padding on both axes.</summary>
    public static Tensor AvgPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true) =>
        AvgPool2d(input, (kernelSize, kernelSize), (stride ?? kernelSize, stride ?? kernelSize), (padding, padding), ceilMode, countIncludePad);

    /// <summary>
    /// torch.nn.functional.adaptive_avg_pool2d: output cell (i, j) averages input rows
    /// [floor(i * H / outH), ceil((i + 1) * H / outH)) and the matching columns, so any output size works.
    /// </summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, (int Height, int Width) outputSize)
    {
        const string op = "adaptive_avg_pool2d";
        ExpectImageBatch(op, input);
        ExpectPositivePair(op, "outputSize", outputSize);
        int planes = input.Size(0) * input.Size(1), inHeight = input.Size(2), inWidth = input.Size(3);
        if (inHeight == 0 || inWidth == 0)
            throw new TensorShapeException($"{op}: 'input' expected non-empty height and width, found shape {Shapes.Format(input.Shape)}", nameof(input));
        var (outHeight, outWidth) = outputSize;
        var x = input.Contiguous();
        var y = Tensor.Allocate([input.Size(0), input.Size(1), outHeight, outWidth], DType.Float32, input.Device, zero: false);
        if (x.Device.IsGpu)
            GpuPool2d.AdaptiveForward(x.Gpu.Launcher, x.DeviceView<float>(), planes, inHeight, inWidth, outHeight, outWidth, y.DeviceView<float>());
        else
            unsafe { Kernels.Cpu.AvgPool2d.AdaptiveForward(x.Pointer<float>(), planes, inHeight, inWidth, outHeight, outWidth, y.Pointer<float>()); }
        int[] inputShape = input.ShapeArray;
        return AutogradEngine.Record(y, op, [input], g =>
        {
            var grad = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, grad.Device, zero: false);
            if (grad.Device.IsGpu)
                GpuPool2d.AdaptiveBackward(grad.Gpu.Launcher, grad.DeviceView<float>(), planes, inHeight, inWidth, outHeight, outWidth, gradInput.DeviceView<float>());
            else
                unsafe { Kernels.Cpu.AvgPool2d.AdaptiveBackward(grad.Pointer<float>(), planes, inHeight, inWidth, outHeight, outWidth, gradInput.Pointer<float>()); }
            return [gradInput];
        });
    }

    /// <summary>AdaptiveAvgPool2d to a square outputSize x outputSize.</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, int outputSize) => AdaptiveAvgPool2d(input, (outputSize, outputSize));

    /// <summary>Global average pooling: the mean of each plane, shape [batch, channels, 1, 1] (AdaptiveAvgPool2d to 1x1).</summary>
    public static Tensor GlobalAvgPool2d(Tensor input) => AdaptiveAvgPool2d(input, (1, 1));

    /// <summary>Checks the arguments of a fixed-window pool and works out its output size (PyTorch's pooling_output_shape).</summary>
    private static Pool2dGeometry PoolGeometry(string op, Tensor input, (int Height, int Width) kernelSize, (int Height, int Width) stride,
        (int Height, int Width) padding, (int Height, int Width) dilation, bool ceilMode)
    {
        ExpectImageBatch(op, input);
        ExpectPositivePair(op, "kernelSize", kernelSize);
        ExpectPositivePair(op, "stride", stride);
        ExpectPositivePair(op, "dilation", dilation);
        if (padding.Height < 0 || padding.Width < 0 || padding.Height > kernelSize.Height / 2 || padding.Width > kernelSize.Width / 2)
            throw new ArgumentOutOfRangeException(nameof(padding), $"{op}: 'padding' expected non-negative values of at most half the kernel size ({kernelSize.Height / 2}, {kernelSize.Width / 2}) for kernel ({kernelSize.Height}, {kernelSize.Width}), found ({padding.Height}, {padding.Width})");
        int outHeight = PoolOutputSize(input.Size(2), kernelSize.Height, stride.Height, padding.Height, dilation.Height, ceilMode);
        int outWidth = PoolOutputSize(input.Size(3), kernelSize.Width, stride.Width, padding.Width, dilation.Width, ceilMode);
        if (outHeight < 1 || outWidth < 1)
            throw new TensorShapeException($"{op}: the output for input {Shapes.Format(input.Shape)} with kernel ({kernelSize.Height}, {kernelSize.Width}), padding ({padding.Height}, {padding.Width}) and dilation ({dilation.Height}, {dilation.Width}) would be {outHeight}x{outWidth}; expected at least 1x1, so use a smaller kernel or a larger input", nameof(input));
        return new Pool2dGeometry
        {
            PlaneCount = input.Size(0) * input.Size(1), InHeight = input.Size(2), InWidth = input.Size(3),
            OutHeight = outHeight, OutWidth = outWidth, KernelHeight = kernelSize.Height, KernelWidth = kernelSize.Width,
            StrideHeight = stride.Height, StrideWidth = stride.Width, PaddingHeight = padding.Height, PaddingWidth = padding.Width,
            DilationHeight = dilation.Height, DilationWidth = dilation.Width,
        };
    }

    private static int PoolOutputSize(int inSize, int kernel, int stride, int padding, int dilation, bool ceilMode)
    {
        int numerator = inSize + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
        int size = (int)Math.Floor((double)numerator / stride) + 1;
        // The last window must start inside the input or the left padding.
        if (ceilMode && (size - 1) * stride >= inSize + padding)
            size--;
        return size;
    }

    private static void ExpectImageBatch(string op, Tensor input)
    {
        input.ExpectFloat(op, "input");
        if (input.Rank != 4)
            throw new TensorShapeException($"{op}: 'input' expected a 4-d tensor [batch, channels, height, width], found shape {Shapes.Format(input.Shape)}; add a batch dim with Unsqueeze(0)", nameof(input));
    }
}
