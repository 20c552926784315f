using Tessera.Engine;
using Tessera.Kernels.Cpu;

namespace Tessera.Autograd;

/// <summary>How Functional.Interpolate resamples.</summary>
public enum InterpolationMode
{
    /// <summary>PyTorch 'nearest': source index floor(dst * in / out) (or dst / scaleFactor).</summary>
    Nearest,

    /// <summary>PyTorch 'bilinear' over the last two dims, with or without align_corners.</summary>
    Bilinear,
}

/// <summary>Resizing of [batch, channels, height, width] images (torch.nn.functional.interpolate).</summary>
public static partial class Functional
{
    /// <summary>
    /// torch.nn.functional.interpolate for 4-d input: give exactly one of size (outHeight, outWidth)
    /// or scaleFactor (then out = floor(in * scaleFactor), and the source step is 1 / scaleFactor as
    /// in PyTorch without recompute_scale_factor). alignCorners (bilinear only, default false) maps the
    /// corner pixel centres onto each other; otherwise pixels are sampled at half-pixel centres.
    /// </summary>
    public static Tensor Interpolate(Tensor input, (int Height, int Width)? size = null, (double Height, double Width)? scaleFactor = null,
        InterpolationMode mode = InterpolationMode.Nearest, bool? alignCorners = null)
    {
        const string op = "interpolate";
        ExpectImageBatch(op, input);
        if (size is null == scaleFactor is null)
            throw new ArgumentException($"{op}: expected exactly one of 'size' and 'scaleFactor', found {(size is null ? "neither" : "both")}", nameof(size));
        if (alignCorners is not null && mode == InterpolationMode.Nearest)
            throw new ArgumentException($"{op}: 'alignCorners' can only be set for the interpolating mode Bilinear, found it set with mode {mode}", nameof(alignCorners));
        if (!Enum.IsDefined(mode))
            throw new ArgumentOutOfRangeException(nameof(mode), mode, $"{op}: 'mode' expected Nearest or Bilinear, found {mode}");
        int inHeight = input.Size(2), inWidth = input.Size(3);
        if (inHeight == 0 || inWidth == 0)
            throw new TensorShapeException($"{op}: 'input' expected non-empty height and width, found shape {Shapes.Format(input.Shape)}", nameof(input));
        double? scaleHeight = null, scaleWidth = null;
        int outHeight, outWidth;
        if (scaleFactor is { } scale)
        {
            if (!(scale.Height > 0) || !(scale.Width > 0) || double.IsInfinity(scale.Height) || double.IsInfinity(scale.Width))
                throw new ArgumentOutOfRangeException(nameof(scaleFactor), $"{op}: 'scaleFactor' expected positive finite values, found ({scale.Height}, {scale.Width})");
            (scaleHeight, scaleWidth) = (scale.Height, scale.Width);
            outHeight = (int)Math.Floor(inHeight * scale.Height);
            outWidth = (int)Math.Floor(inWidth * scale.Width);
            if (outHeight <= 0 || outWidth <= 0)
                throw new ArgumentOutOfRangeException(nameof(scaleFactor), $"{op}: 'scaleFactor' ({scale.Height}, {scale.Width}) gives an output of {outHeight}x{outWidth} for input {inHeight}x{inWidth}; expected at least 1x1");
        }
        else
        {
            (outHeight, outWidth) = size!.Value;
            if (outHeight <= 0 || outWidth <= 0)
                throw new ArgumentOutOfRangeException(nameof(size), $"{op}: 'size' expected positive values, found ({outHeight}, {outWidth})");
        }
        int planes = input.Size(0) * input.Size(1);
        var x = input.Contiguous();
        var y = Tensor.Allocate([input.Size(0), input.Size(1), outHeight, outWidth], DType.Float32, input.Device, zero: false);
        int[] inputShape = input.ShapeArray;
        if (mode == InterpolationMode.Nearest)
        {
            int[] rows = Upsample2d.NearestIndices(inHeight, outHeight, scaleHeight);
            int[] columns = Upsample2d.NearestIndices(inWidth, outWidth, scaleWidth);
            if (x.Device.IsGpu)
                return NearestGpu(input, x, planes, inHeight, inWidth, rows, columns, y);
            unsafe { Upsample2d.NearestForward(x.Pointer<float>(), planes, inHeight, inWidth, rows, columns, y.Pointer<float>()); }
            return AutogradEngine.Record(y, "upsample_nearest2d", [input], g =>
            {
                var grad = g.Contiguous();
                var gradInput = Tensor.Allocate(inputShape, DType.Float32, grad.Device, zero: false);
                unsafe { Upsample2d.NearestBackward(grad.Pointer<float>(), planes, inHeight, inWidth, rows, columns, gradInput.Pointer<float>()); }
                return [gradInput];
            });
        }
        bool corners = alignCorners ?? false;
        var rowAxis = LinearAxis.Create(inHeight, outHeight, corners, scaleHeight);
        var columnAxis = LinearAxis.Create(inWidth, outWidth, corners, scaleWidth);
        if (x.Device.IsGpu)
            return BilinearGpu(input, x, planes, inHeight, inWidth, rowAxis, columnAxis, y);
        unsafe { Upsample2d.BilinearForward(x.Pointer<float>(), planes, inHeight, inWidth, rowAxis, columnAxis, y.Pointer<float>()); }
        return AutogradEngine.Record(y, "upsample_bilinear2d", [input], g =>
        {
            var grad = g.Contiguous();
            var gradInput = Tensor.Allocate(inputShape, DType.Float32, grad.Device, zero: false);
            unsafe { Upsample2d.BilinearBackward(grad.Pointer<float>(), planes, inHeight, inWidth, rowAxis, columnAxis, gradInput.Pointer<float>()); }
            return [gradInput];
        });
    }

    /// <summary>Interpolate by the same scale factor along height and width.</summary>
    public static Tensor Interpolate(Tensor input, double scaleFactor, InterpolationMode mode = InterpolationMode.Nearest, bool? alignCorners = null) =>
        Interpolate(input, size: null, (scaleFactor, scaleFactor), mode, alignCorners);
}
