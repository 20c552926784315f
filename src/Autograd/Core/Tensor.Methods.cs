using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>Operators and instance shortcuts for the common ops of <see cref="Functional"/>.</summary>
public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Functional.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Functional.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Functional.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Functional.Div(a, b);
    public static Tensor operator -(Tensor a) => Functional.Neg(a);

    public static Tensor operator +(Tensor a, float b) => Functional.Add(a, Scalar(b));
    public static Tensor operator +(float a, Tensor b) => Functional.Add(Scalar(a), b);
    public static Tensor operator -(Tensor a, float b) => Functional.Sub(a, Scalar(b));
    public static Tensor operator -(float a, Tensor b) => Functional.Sub(Scalar(a), b);
    public static Tensor operator *(Tensor a, float b) => Functional.Mul(a, Scalar(b));
    public static Tensor operator *(float a, Tensor b) => Functional.Mul(Scalar(a), b);
    public static Tensor operator /(Tensor a, float b) => Functional.Div(a, Scalar(b));
    public static Tensor operator /(float a, Tensor b) => Functional.Div(Scalar(a), b);

    public Tensor Add(Tensor other) => Functional.Add(this, other);
    public Tensor Sub(Tensor other) => Functional.Sub(this, other);
    public Tensor Mul(Tensor other) => Functional.Mul(this, other);
    public Tensor Div(Tensor other) => Functional.Div(this, other);
    public Tensor Neg() => Functional.Neg(this);
    public Tensor Abs() => Functional.Abs(this);
    public Tensor Exp() => Functional.Exp(this);
    public Tensor Log() => Functional.Log(this);
    public Tensor Sqrt() => Functional.Sqrt(this);
    public Tensor Rsqrt() => Functional.Rsqrt(this);
    public Tensor Pow(float exponent) => Functional.Pow(this, exponent);
    public Tensor Pow(Tensor exponent) => Functional.Pow(this, exponent);
    public Tensor Tanh() => Functional.Tanh(this);
    public Tensor Sigmoid() => Functional.Sigmoid(this);
    public Tensor Relu() => Functional.Relu(this);
    public Tensor Clamp(float? min = null, float? max = null) => Functional.Clamp(this, min, max);

    public Tensor Equal(Tensor other) => Functional.Equal(this, other);
    public Tensor Equal(float other) => Functional.Equal(this, other);
    public Tensor NotEqual(float other) => Functional.NotEqual(this, Scalar(other));
    public Tensor Greater(float other) => Functional.Greater(this, other);
    public Tensor Less(float other) => Functional.Less(this, other);

    public Tensor Sum(int[]? dims = null, bool keepDim = false) => Functional.Sum(this, dims, keepDim);
    public Tensor Sum(int dim, bool keepDim = false) => Functional.Sum(this, dim, keepDim);
    public Tensor Mean(int[]? dims = null, bool keepDim = false) => Functional.Mean(this, dims, keepDim);
    public Tensor Mean(int dim, bool keepDim = false) => Functional.Mean(this, dim, keepDim);
    public Tensor Max() => Functional.Max(this);
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => Functional.Max(this, dim, keepDim);
    public Tensor Argmax(int? dim = null, bool keepDim = false) => Functional.Argmax(this, dim, keepDim);

    public Tensor Matmul(Tensor other) => Functional.Matmul(this, other);

    public Tensor Reshape(params int[] shape) => Functional.Reshape(this, shape);
    public Tensor View(params int[] shape) => Functional.View(this, shape);
    public Tensor Permute(params int[] dims) => Functional.Permute(this, dims);
    public Tensor Transpose(int dim0, int dim1) => Functional.Transpose(this, dim0, dim1);
    /// <summary>Transpose of the last two dims.</summary>
    public Tensor T => Functional.Transpose(this, -2, -1);
    public Tensor Narrow(int dim, int start, int length) => Functional.Narrow(this, dim, start, length);
    public Tensor Slice(int dim, int start, int end, int step = 1) => Functional.Slice(this, dim, start, end, step);
    public Tensor Select(int dim, int index) => Functional.Select(this, dim, index);
    public Tensor Expand(params int[] shape) => Functional.Expand(this, shape);
    public Tensor Squeeze(int? dim = null) => Functional.Squeeze(this, dim);
    public Tensor Unsqueeze(int dim) => Functional.Unsqueeze(this, dim);
    public Tensor Flatten(int startDim = 0, int endDim = -1) => Functional.Flatten(this, startDim, endDim);
    public Tensor Clone() => Functional.Clone(this);
    public Tensor ToFloat() => Functional.ToFloat(this);
    public Tensor ToLong() => Functional.ToLong(this);

    /// <summary>
    /// This tensor on <paramref name="device"/> (itself when already there): a dense copy through
    /// host memory, differentiable (the gradient goes back to this tensor's device). Opening
    /// <c>cuda</c> without a usable GPU throws a <see cref="TensorDeviceException"/> naming why.
    /// </summary>
    public Tensor To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device == Device)
            return this;
        var dense = Contiguous();
        var result = Allocate(_shape, DType, device, zero: false);
        int bytes = Numel * DType.ElementSize();
        if (bytes > 0)
        {
            if (Device.IsCpu)
            {
                result.Gpu.CopyToDevice(result.DeviceAddress, dense.CpuStore.AsSpan<byte>(dense.Offset * DType.ElementSize(), bytes));
            }
            else if (device.IsCpu)
            {
                dense.Gpu.CopyToHost(result.CpuStore.AsSpan<byte>(0, bytes), dense.DeviceAddress);
            }
            else
            {
                var staging = new byte[bytes];
                dense.Gpu.CopyToHost(staging, dense.DeviceAddress);
                result.Gpu.CopyToDevice(result.DeviceAddress, staging);
            }
        }
        var source = Device;
        return AutogradEngine.Record(result, "to", [this], g => [g.To(source)]);
    }

    // ---- in-place (optimisers, initialisers, gradient accumulation); never recorded ----

    /// <summary>this += alpha * other (other broadcasts to this shape).</summary>
    public Tensor AddInPlace(Tensor other, float alpha = 1f)
    {
        CheckInPlace("AddInPlace");
        using (GradMode.NoGrad())
            CopyFrom(alpha == 1f ? this + other : this + other * alpha);
        return this;
    }

    /// <summary>this *= factor.</summary>
    public Tensor MulInPlace(float factor)
    {
        CheckInPlace("MulInPlace");
        using (GradMode.NoGrad())
            CopyFrom(this * factor);
        return this;
    }

    /// <summary>Copies (and broadcasts) <paramref name="source"/> into this tensor's elements, whatever this view's strides.</summary>
    public Tensor CopyFrom(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckInPlace("CopyFrom");
        if (source.DType != DType)
            throw new TensorDTypeException($"CopyFrom: 'source' expected {DType.Name()}, found {source.DType.Name()}", nameof(source));
        int[] shape = Shapes.Broadcast(_shape, source.Shape, "CopyFrom");
        if (!Shapes.Equal(shape, _shape))
            throw new TensorShapeException($"CopyFrom: 'source' of shape {Shapes.Format(source.Shape)} does not broadcast to the destination's {Shapes.Format(_shape)}", nameof(source));
        if (source.Device != Device)
            source = source.To(Device);
        int[] sourceStrides = Functional.BroadcastStrides(source, _shape);
        if (Device.IsGpu)
        {
            Functional.CopyStrided(source, 0, sourceStrides, this, 0, _shape);
            return this;
        }
        unsafe
        {
            switch (DType.ElementSize())
            {
                case 1: Kernels.Cpu.StridedCopy.Run(source.Pointer<byte>(), sourceStrides, Pointer<byte>(), _strides, _shape); break;
                case 4: Kernels.Cpu.StridedCopy.Run(source.Pointer<int>(), sourceStrides, Pointer<int>(), _strides, _shape); break;
                default: Kernels.Cpu.StridedCopy.Run(source.Pointer<long>(), sourceStrides, Pointer<long>(), _strides, _shape); break;
            }
        }
        return this;
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public Tensor Fill(float value)
    {
        if (Device.IsGpu && DType == DType.Float32 && IsContiguous)
        {
            CheckInPlace("Fill");
            Kernels.Gpu.GpuMemoryKernels.FillFloats(Gpu, DeviceAddress, Numel, value);
            return this;
        }
        return CopyFrom(Scalar(value));
    }

    public Tensor Zero() => Fill(0f);

    private void CheckInPlace(string op)
    {
        if (GradMode.IsEnabled && RequiresGrad)
            throw new InvalidOperationException($"{op}: an in-place change of a tensor that requires grad would corrupt the graph; do it inside GradMode.NoGrad() (optimisers do) or on a Detach()ed tensor");
    }
}
