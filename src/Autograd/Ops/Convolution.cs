using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>2-d convolution and transposed convolution (torch.nn.functional.conv2d / conv_transpose2d).</summary>
public static partial class Functional
{
    /// <summary>
    /// torch.nn.functional.conv2d: input [batch, inChannels, height, width], weight
    /// [outChannels, inChannels / groups, kernelHeight, kernelWidth], optional bias [outChannels].
    /// stride, padding and dilation are (height, width) pairs (defaults 1, 0, 1); groups = inChannels
    /// gives a depthwise convolution. Output [batch, outChannels, outHeight, outWidth] with
    /// out = floor((in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1.
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, (int Height, int Width)? stride = null,
        (int Height, int Width)? padding = null, (int Height, int Width)? dilation = null, int groups = 1)
    {
        const string op = "conv2d";
        var (s, p, d) = (stride ?? (1, 1), padding ?? (0, 0), dilation ?? (1, 1));
        CheckConvArguments(op, input, weight, bias, s, p, d, groups);
        int inChannels = input.Size(1), outChannels = weight.Size(0);
        if (inChannels % groups != 0)
            throw new TensorShapeException($"{op}: 'input' expected a number of channels divisible by groups={groups}, found {inChannels} in shape {Shapes.Format(input.Shape)}", nameof(input));
        if (weight.Size(1) * groups != inChannels)
            throw new TensorShapeException($"{op}: 'input' expected {weight.Size(1) * groups} channels (weight {Shapes.Format(weight.Shape)} with groups={groups} takes {weight.Size(1)} per group), found {inChannels} in shape {Shapes.Format(input.Shape)}", nameof(input));
        if (outChannels % groups != 0)
            throw new TensorShapeException($"{op}: 'weight' expected a number of output channels divisible by groups={groups}, found {outChannels} in shape {Shapes.Format(weight.Shape)}", nameof(weight));
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != outChannels))
            throw new TensorShapeException($"{op}: 'bias' expected shape [{outChannels}], found {Shapes.Format(bias.Shape)}", nameof(bias));
        int outHeight = ConvOutputSize(op, "height", input.Size(2), weight.Size(2), s.Height, p.Height, d.Height);
        int outWidth = ConvOutputSize(op, "width", input.Size(3), weight.Size(3), s.Width, p.Width, d.Width);
        var geometry = new Conv2dGeometry
        {
            BatchSize = input.Size(0), InChannels = inChannels, InHeight = input.Size(2), InWidth = input.Size(3),
            OutChannels = outChannels, OutHeight = outHeight, OutWidth = outWidth,
            KernelHeight = weight.Size(2), KernelWidth = weight.Size(3),
            StrideHeight = s.Height, StrideWidth = s.Width, PaddingHeight = p.Height, PaddingWidth = p.Width,
            DilationHeight = d.Height, DilationWidth = d.Width, Groups = groups,
        };
        var x = input.Contiguous();
        var w = weight.Contiguous();
        var b = bias?.Contiguous();
        var y = Tensor.Allocate([geometry.BatchSize, outChannels, outHeight, outWidth], DType.Float32, input.Device, zero: false);
        if (y.Device.IsGpu)
            GpuConv2d.Forward(y.Gpu.Launcher, x.DeviceView<float>(), w.DeviceView<float>(), b?.DeviceView<float>(), geometry, y.DeviceView<float>());
        else
            unsafe { Kernels.Cpu.Conv2d.Forward(x.Pointer<float>(), w.Pointer<float>(), b is null ? null : b.Pointer<float>(), geometry, y.Pointer<float>()); }
        Tensor[] inputs = bias is null ? [input, weight] : [input, weight, bias];
        return AutogradEngine.Record(y, op, inputs, g =>
        {
            var grad = g.Contiguous();
            var gradInput = input.RequiresGrad ? ConvBackwardInput(grad, w, geometry) : null;
            var gradWeight = weight.RequiresGrad ? ConvBackwardWeight(x, grad, geometry, w.ShapeArray) : null;
            if (bias is null) return [gradInput, gradWeight];
            return [gradInput, gradWeight, bias.RequiresGrad ? ConvBackwardBias(grad, outChannels, geometry.BatchSize, geometry.OutPlane) : null];
        });
    }

    /// <summary>Conv2d with the same stride, padding and dilation along height and width.</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, int stride, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(input, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>
    /// torch.nn.functional.conv_transpose2d, the adjoint of conv2d: input [batch, inChannels, height, width],
    /// weight [inChannels, outChannels / groups, kernelHeight, kernelWidth], optional bias [outChannels].
    /// out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1, where
    /// outputPadding (which only adds rows and columns at the bottom and right) must be smaller than stride or dilation.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, (int Height, int Width)? stride = null,
        (int Height, int Width)? padding = null, (int Height, int Width)? outputPadding = null, int groups = 1, (int Height, int Width)? dilation = null)
    {
        const string op = "conv_transpose2d";
        var (s, p, d, o) = (stride ?? (1, 1), padding ?? (0, 0), dilation ?? (1, 1), outputPadding ?? (0, 0));
        CheckConvArguments(op, input, weight, bias, s, p, d, groups);
        int inChannels = input.Size(1);
        if (weight.Size(0) != inChannels)
            throw new TensorShapeException($"{op}: 'input' expected {weight.Size(0)} channels (weight {Shapes.Format(weight.Shape)} is [inChannels, outChannels / groups, kH, kW]), found {inChannels} in shape {Shapes.Format(input.Shape)}", nameof(input));
        if (inChannels % groups != 0)
            throw new TensorShapeException($"{op}: 'input' expected a number of channels divisible by groups={groups}, found {inChannels}", nameof(input));
        int outChannels = weight.Size(1) * groups;
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != outChannels))
            throw new TensorShapeException($"{op}: 'bias' expected shape [{outChannels}], found {Shapes.Format(bias.Shape)}", nameof(bias));
        if (o.Height < 0 || o.Width < 0 || (o.Height >= s.Height && o.Height >= d.Height) || (o.Width >= s.Width && o.Width >= d.Width))
            throw new ArgumentOutOfRangeException(nameof(outputPadding), $"{op}: 'outputPadding' expected non-negative values smaller than either stride ({s.Height}, {s.Width}) or dilation ({d.Height}, {d.Width}), found ({o.Height}, {o.Width})");
        int outHeight = (input.Size(2) - 1) * s.Height - 2 * p.Height + d.Height * (weight.Size(2) - 1) + o.Height + 1;
        int outWidth = (input.Size(3) - 1) * s.Width - 2 * p.Width + d.Width * (weight.Size(3) - 1) + o.Width + 1;
        if (outHeight <= 0 || outWidth <= 0)
            throw new TensorShapeException($"{op}: the output would be {outHeight}x{outWidth} for input {Shapes.Format(input.Shape)} with kernel {weight.Size(2)}x{weight.Size(3)}, stride ({s.Height}, {s.Width}) and padding ({p.Height}, {p.Width}); reduce the padding", nameof(padding));
        // The conv2d geometry that maps the output back to the input; this op runs it backwards.
        var geometry = new Conv2dGeometry
        {
            BatchSize = input.Size(0), InChannels = outChannels, InHeight = outHeight, InWidth = outWidth,
            OutChannels = inChannels, OutHeight = input.Size(2), OutWidth = input.Size(3),
            KernelHeight = weight.Size(2), KernelWidth = weight.Size(3),
            StrideHeight = s.Height, StrideWidth = s.Width, PaddingHeight = p.Height, PaddingWidth = p.Width,
            DilationHeight = d.Height, DilationWidth = d.Width, Groups = groups,
        };
        var x = input.Contiguous();
        var w = weight.Contiguous();
        var y = ConvBackwardInput(x, w, geometry);
        if (bias is not null)
        {
            if (y.Device.IsGpu)
                GpuConv2d.AddBias(y.Gpu.Launcher, bias.Contiguous().DeviceView<float>(), geometry.BatchSize, outChannels, geometry.InPlane, y.DeviceView<float>());
            else
                using (GradMode.NoGrad())
                    y = y + Reshape(bias.Detach(), outChannels, 1, 1);
        }
        Tensor[] inputs = bias is null ? [input, weight] : [input, weight, bias];
        return AutogradEngine.Record(y, op, inputs, g =>
        {
            var grad = g.Contiguous();
            Tensor? gradInput = null;
            if (input.RequiresGrad)
            {
                gradInput = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
                if (grad.Device.IsGpu)
                    GpuConv2d.Forward(grad.Gpu.Launcher, grad.DeviceView<float>(), w.DeviceView<float>(), null, geometry, gradInput.DeviceView<float>());
                else
                    unsafe { Kernels.Cpu.Conv2d.Forward(grad.Pointer<float>(), w.Pointer<float>(), null, geometry, gradInput.Pointer<float>()); }
            }
            var gradWeight = weight.RequiresGrad ? ConvBackwardWeight(grad, x, geometry, w.ShapeArray) : null;
            if (bias is null) return [gradInput, gradWeight];
            return [gradInput, gradWeight, bias.RequiresGrad ? ConvBackwardBias(grad, outChannels, geometry.BatchSize, geometry.InPlane) : null];
        });
    }

    /// <summary>ConvTranspose2d with the same stride, padding, output padding and dilation along height and width.</summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias, int stride, int padding = 0, int outputPadding = 0, int groups = 1, int dilation = 1) =>
        ConvTranspose2d(input, weight, bias, (stride, stride), (padding, padding), (outputPadding, outputPadding), groups, (dilation, dilation));

    private static void CheckConvArguments(string op, Tensor input, Tensor weight, Tensor? bias, (int Height, int Width) stride,
        (int Height, int Width) padding, (int Height, int Width) dilation, int groups)
    {
        input.ExpectFloat(op, "input");
        weight.ExpectFloat(op, "weight");
        bias?.ExpectFloat(op, "bias");
        CheckSameDevice(op, bias is null ? [input, weight] : [input, weight, bias]);
        if (input.Rank != 4)
            throw new TensorShapeException($"{op}: 'input' expected a 4-d tensor [batch, channels, height, width], found shape {Shapes.Format(input.Shape)}; add a batch dim with Unsqueeze(0)", nameof(input));
        if (weight.Rank != 4)
            throw new TensorShapeException($"{op}: 'weight' expected a 4-d tensor, found shape {Shapes.Format(weight.Shape)}", nameof(weight));
        if (groups < 1)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"{op}: 'groups' expected a positive number, found {groups}");
        ExpectPositivePair(op, "stride", stride);
        ExpectPositivePair(op, "dilation", dilation);
        if (padding.Height < 0 || padding.Width < 0)
            throw new ArgumentOutOfRangeException(nameof(padding), $"{op}: 'padding' expected non-negative values, found ({padding.Height}, {padding.Width})");
    }

    internal static void ExpectPositivePair(string op, string argument, (int Height, int Width) value)
    {
        if (value.Height <= 0 || value.Width <= 0)
            throw new ArgumentOutOfRangeException(argument, $"{op}: '{argument}' expected positive values, found ({value.Height}, {value.Width})");
    }

    private static int ConvOutputSize(string op, string axis, int inSize, int kernel, int stride, int padding, int dilation)
    {
        int span = dilation * (kernel - 1) + 1;
        int padded = inSize + 2 * padding;
        if (span > padded)
            throw new TensorShapeException($"{op}: the kernel spans {span} along the {axis} (kernel {kernel}, dilation {dilation}) but the padded input has only {padded} ({inSize} + 2 * padding {padding}); use a smaller kernel or more padding");
        return (padded - span) / stride + 1;
    }

    /// <summary>convᵀ(gradOutput, weight) as a new tensor of the geometry's input shape (no graph).</summary>
    private static unsafe Tensor ConvBackwardInput(Tensor gradOutput, Tensor weight, in Conv2dGeometry geometry)
    {
        var result = Tensor.Allocate([geometry.BatchSize, geometry.InChannels, geometry.InHeight, geometry.InWidth], DType.Float32, gradOutput.Device, zero: false);
        if (result.Device.IsGpu)
            GpuConv2d.BackwardInput(result.Gpu.Launcher, gradOutput.DeviceView<float>(), weight.DeviceView<float>(), geometry, result.DeviceView<float>());
        else
            Kernels.Cpu.Conv2d.BackwardInput(gradOutput.Pointer<float>(), weight.Pointer<float>(), geometry, result.Pointer<float>());
        return result;
    }

    private static unsafe Tensor ConvBackwardWeight(Tensor input, Tensor gradOutput, in Conv2dGeometry geometry, int[] weightShape)
    {
        var result = Tensor.Allocate(weightShape, DType.Float32, input.Device, zero: false);
        if (result.Device.IsGpu)
            ConvBackwardWeightGpu(input, gradOutput, geometry, result);
        else
            Kernels.Cpu.Conv2d.BackwardWeight(input.Pointer<float>(), gradOutput.Pointer<float>(), geometry, result.Pointer<float>());
        return result;
    }

    private static unsafe Tensor ConvBackwardBias(Tensor gradOutput, int channels, int batchSize, int planeSize)
    {
        var result = Tensor.Allocate([channels], DType.Float32, gradOutput.Device, zero: false);
        if (result.Device.IsGpu)
            GpuConv2d.BackwardBias(result.Gpu.Launcher, gradOutput.DeviceView<float>(), batchSize, channels, planeSize, result.DeviceView<float>());
        else
            Kernels.Cpu.Conv2d.BackwardBias(gradOutput.Pointer<float>(), batchSize, channels, planeSize, result.Pointer<float>());
        return result;
    }
}
