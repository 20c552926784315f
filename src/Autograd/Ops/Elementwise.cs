using Tessera.Engine;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>Elementwise arithmetic with broadcasting, unary maps, comparisons, where and masked fill.</summary>
public static partial class Functional
{
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, a, b, "add");

    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Subtract, a, b, "sub");

    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Multiply, a, b, "mul");

    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Divide, a, b, "div");

    /// <summary>Elementwise maximum; on ties the gradient is split evenly, as in PyTorch.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => Binary(BinaryOp.Maximum, a, b, "maximum");

    public static Tensor Minimum(Tensor a, Tensor b) => Binary(BinaryOp.Minimum, a, b, "minimum");

    public static Tensor Pow(Tensor a, Tensor b) => Binary(BinaryOp.Pow, a, b, "pow");

    public static Tensor Pow(Tensor x, float exponent)
    {
        x.ExpectFloat("pow", "input");
        var y = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            GpuElementwise.PowScalar(x.Gpu.Launcher, x.DeviceStorageView<float>(), StridedIndex.Create(x.Shape, x.Strides), exponent, y.DeviceView<float>());
        }
        else
        {
            var dense = x.Contiguous();
            unsafe { Kernels.Cpu.Unary.PowScalar(dense.Pointer<float>(), exponent, y.Pointer<float>(), y.Numel); }
        }
        return AutogradEngine.Record(y, "pow", [x], g => [g * Pow(x, exponent - 1f) * exponent]);
    }

    public static Tensor Neg(Tensor x) => Map(UnaryOp.Negate, x, "neg", (g, _) => -g);

    public static Tensor Abs(Tensor x) => Map(UnaryOp.Abs, x, "abs", (g, _) => MapBackward(UnaryOp.Abs, x, g));

    public static Tensor Exp(Tensor x) => Map(UnaryOp.Exp, x, "exp", (g, y) => g * y);

    public static Tensor Log(Tensor x) => Map(UnaryOp.Log, x, "log", (g, _) => g / x);

    public static Tensor Sqrt(Tensor x) => Map(UnaryOp.Sqrt, x, "sqrt", (g, y) => g * 0.5f / y);

    public static Tensor Rsqrt(Tensor x) => Map(UnaryOp.Rsqrt, x, "rsqrt", (g, y) => g * (y * y * y) * -0.5f);

    public static Tensor Tanh(Tensor x) => Map(UnaryOp.Tanh, x, "tanh", (g, y) => g * (1f - y * y));

    public static Tensor Sigmoid(Tensor x) => Map(UnaryOp.Sigmoid, x, "sigmoid", (g, y) => g * y * (1f - y));

    public static Tensor Relu(Tensor x) => Map(UnaryOp.Relu, x, "relu", (g, _) => MapBackward(UnaryOp.Relu, x, g));

    /// <summary>GELU; <paramref name="approximateTanh"/> selects the tanh form (PyTorch approximate='tanh').</summary>
    public static Tensor Gelu(Tensor x, bool approximateTanh = false)
    {
        var op = approximateTanh ? UnaryOp.GeluTanh : UnaryOp.GeluErf;
        return Map(op, x, "gelu", (g, _) => MapBackward(op, x, g));
    }

    public static Tensor Silu(Tensor x) => Map(UnaryOp.Silu, x, "silu", (g, _) => MapBackward(UnaryOp.Silu, x, g));

    /// <summary>-1, 0 or 1 per element (no gradient).</summary>
    public static Tensor Sign(Tensor x) => Map(UnaryOp.Sign, x, "sign", (g, _) => Tensor.ZerosLike(g));

    /// <summary>Clamps into [min, max] (either bound may be null); the gradient passes where min &lt;= x &lt;= max.</summary>
    public static Tensor Clamp(Tensor x, float? min = null, float? max = null)
    {
        x.ExpectFloat("clamp", "input");
        if (min is null && max is null)
            throw new ArgumentException("clamp: expected at least one of 'min' and 'max', found neither");
        float low = min ?? float.NegativeInfinity, high = max ?? float.PositiveInfinity;
        var y = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            GpuElementwise.Clamp(x.Gpu.Launcher, x.DeviceStorageView<float>(), StridedIndex.Create(x.Shape, x.Strides), low, high, y.DeviceView<float>());
        }
        else
        {
            var dense = x.Contiguous();
            unsafe { Kernels.Cpu.Unary.Clamp(dense.Pointer<float>(), low, high, y.Pointer<float>(), y.Numel); }
        }
        return AutogradEngine.Record(y, "clamp", [x], g =>
        {
            var inside = LogicalAnd(GreaterEqual(x, low), LessEqual(x, high));
            return [Where(inside, g, 0f)];
        });
    }

    // ---- comparisons (bool results, no gradient) ----

    public static Tensor Equal(Tensor a, Tensor b) => Compare(CompareOp.Equal, a, b, "eq");

    public static Tensor NotEqual(Tensor a, Tensor b) => Compare(CompareOp.NotEqual, a, b, "ne");

    public static Tensor Less(Tensor a, Tensor b) => Compare(CompareOp.Less, a, b, "lt");

    public static Tensor LessEqual(Tensor a, Tensor b) => Compare(CompareOp.LessEqual, a, b, "le");

    public static Tensor Greater(Tensor a, Tensor b) => Compare(CompareOp.Greater, a, b, "gt");

    public static Tensor GreaterEqual(Tensor a, Tensor b) => Compare(CompareOp.GreaterEqual, a, b, "ge");

    public static Tensor Equal(Tensor a, float b) => Equal(a, Tensor.Scalar(b));

    public static Tensor Less(Tensor a, float b) => Less(a, Tensor.Scalar(b));

    public static Tensor LessEqual(Tensor a, float b) => LessEqual(a, Tensor.Scalar(b));

    public static Tensor Greater(Tensor a, float b) => Greater(a, Tensor.Scalar(b));

    public static Tensor GreaterEqual(Tensor a, float b) => GreaterEqual(a, Tensor.Scalar(b));

    /// <summary>Elementwise AND of two bool tensors (broadcasting).</summary>
    public static Tensor LogicalAnd(Tensor a, Tensor b)
    {
        ExpectBool(a, "logical_and", "a");
        ExpectBool(b, "logical_and", "b");
        return Where(a, b.ToFloat(), 0f).NotEqual(0f);
    }

    public static Tensor LogicalNot(Tensor a)
    {
        ExpectBool(a, "logical_not", "a");
        return Equal(a.ToFloat(), 0f);
    }

    /// <summary>cond ? a : b elementwise, all three broadcast together. Gradients flow to the chosen side.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        ExpectBool(condition, "where", "condition");
        a.ExpectFloat("where", "a");
        b.ExpectFloat("where", "b");
        Device device = GpuDeviceOf(condition, a, b) ?? a.Device;
        (condition, a, b) = (HostScalarTo(condition, device), HostScalarTo(a, device), HostScalarTo(b, device));
        CheckSameDevice("where", condition, a, b);
        int[] shape = Shapes.Broadcast(Shapes.Broadcast(condition.Shape, a.Shape, "where"), b.Shape, "where");
        var y = Tensor.Allocate(shape, DType.Float32, a.Device, zero: false);
        if (device.IsGpu)
        {
            var index = StridedIndex.Create(shape, BroadcastStrides(a, shape), BroadcastStrides(b, shape), BroadcastStrides(condition, shape));
            GpuElementwise.Where(y.Gpu.Launcher, condition.DeviceStorageView<bool>(), a.DeviceStorageView<float>(), b.DeviceStorageView<float>(), index, y.DeviceView<float>());
        }
        else
        {
            unsafe
            {
                Elementwise.Where(condition.Pointer<bool>(), BroadcastStrides(condition, shape), a.Pointer<float>(), BroadcastStrides(a, shape),
                    b.Pointer<float>(), BroadcastStrides(b, shape), y.Pointer<float>(), shape);
            }
        }
        int[] shapeA = a.ShapeArray, shapeB = b.ShapeArray;
        return AutogradEngine.Record(y, "where", [a, b], g =>
        [
            a.RequiresGrad ? SumToShape(Where(condition, g, 0f), shapeA) : null,
            b.RequiresGrad ? SumToShape(Where(condition, 0f, g), shapeB) : null,
        ]);
    }

    public static Tensor Where(Tensor condition, Tensor a, float b) => Where(condition, a, Tensor.Scalar(b));

    public static Tensor Where(Tensor condition, float a, Tensor b) => Where(condition, Tensor.Scalar(a), b);

    /// <summary>x with <paramref name="value"/> wherever mask is true (mask broadcasts to x).</summary>
    public static Tensor MaskedFill(Tensor x, Tensor mask, float value)
    {
        ExpectBool(mask, "masked_fill", "mask");
        int[] broadcast = Shapes.Broadcast(x.Shape, mask.Shape, "masked_fill");
        if (!Shapes.Equal(broadcast, x.Shape))
            throw new TensorShapeException($"masked_fill: 'mask' of shape {Shapes.Format(mask.Shape)} must broadcast to the input's shape {Shapes.Format(x.Shape)}, not enlarge it", nameof(mask));
        return Where(mask, Tensor.Scalar(value), x);
    }

    // ---- dtype conversions ----

    /// <summary>Converts to float32 (a copy; no gradient flows back through integer inputs).</summary>
    public static unsafe Tensor ToFloat(Tensor x)
    {
        if (x.DType == DType.Float32) return x;
        var dense = x.Contiguous();
        var y = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            var launcher = y.Gpu.Launcher;
            switch (x.DType)
            {
                case DType.Bool: GpuElementwise.Cast<bool, float, BoolToFloat>(launcher, dense.DeviceView<bool>(), y.DeviceView<float>()); break;
                case DType.Int32: GpuElementwise.Cast<int, float, IntToFloat>(launcher, dense.DeviceView<int>(), y.DeviceView<float>()); break;
                case DType.Int64: GpuElementwise.Cast<long, float, LongToFloat>(launcher, dense.DeviceView<long>(), y.DeviceView<float>()); break;
            }
            return y;
        }
        float* o = y.Pointer<float>();
        int n = y.Numel;
        switch (x.DType)
        {
            case DType.Bool: { bool* p = dense.Pointer<bool>(); for (int i = 0; i < n; i++) o[i] = p[i] ? 1f : 0f; break; }
            case DType.Int32: { int* p = dense.Pointer<int>(); for (int i = 0; i < n; i++) o[i] = p[i]; break; }
            case DType.Int64: { long* p = dense.Pointer<long>(); for (int i = 0; i < n; i++) o[i] = p[i]; break; }
        }
        return y;
    }

    /// <summary>Converts to int64, truncating floats toward zero.</summary>
    public static unsafe Tensor ToLong(Tensor x)
    {
        if (x.DType == DType.Int64) return x;
        var dense = x.Contiguous();
        var y = Tensor.Allocate(x.Shape, DType.Int64, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            var launcher = y.Gpu.Launcher;
            switch (x.DType)
            {
                case DType.Bool: GpuElementwise.Cast<bool, long, BoolToLong>(launcher, dense.DeviceView<bool>(), y.DeviceView<long>()); break;
                case DType.Int32: GpuElementwise.Cast<int, long, IntToLong>(launcher, dense.DeviceView<int>(), y.DeviceView<long>()); break;
                case DType.Float32: GpuElementwise.Cast<float, long, FloatToLong>(launcher, dense.DeviceView<float>(), y.DeviceView<long>()); break;
            }
            return y;
        }
        long* o = y.Pointer<long>();
        int n = y.Numel;
        switch (x.DType)
        {
            case DType.Bool: { bool* p = dense.Pointer<bool>(); for (int i = 0; i < n; i++) o[i] = p[i] ? 1 : 0; break; }
            case DType.Int32: { int* p = dense.Pointer<int>(); for (int i = 0; i < n; i++) o[i] = p[i]; break; }
            case DType.Float32: { float* p = dense.Pointer<float>(); for (int i = 0; i < n; i++) o[i] = (long)p[i]; break; }
        }
        return y;
    }

    // ---- shared machinery ----

    private static Tensor Binary(BinaryOp op, Tensor a, Tensor b, string name)
    {
        a.ExpectFloat(name, "a");
        b.ExpectFloat(name, "b");
        // A CPU 0-d tensor beside a GPU tensor (x * 0.5f) travels as a kernel parameter, as PyTorch accepts CPU scalars with CUDA tensors.
        bool scalarA = IsHostScalarBeside(a, b), scalarB = !scalarA && IsHostScalarBeside(b, a);
        if (!scalarA && !scalarB)
            CheckSameDevice(name, a, b);
        int[] shape = Shapes.Broadcast(a.Shape, b.Shape, name);
        var y = Tensor.Allocate(shape, DType.Float32, scalarA ? b.Device : a.Device, zero: false);
        if (y.Device.IsGpu)
        {
            var launcher = y.Gpu.Launcher;
            if (scalarA || scalarB)
            {
                var tensor = scalarA ? b : a;
                GpuElementwise.BinaryScalar(launcher, op, tensor.DeviceStorageView<float>(), StridedIndex.Create(shape, BroadcastStrides(tensor, shape)),
                    (scalarA ? a : b).Item(), scalarA, y.DeviceView<float>());
            }
            else
            {
                GpuElementwise.Binary(launcher, op, a.DeviceStorageView<float>(), b.DeviceStorageView<float>(),
                    StridedIndex.Create(shape, BroadcastStrides(a, shape), BroadcastStrides(b, shape)), y.DeviceView<float>());
            }
        }
        else
        {
            unsafe { Elementwise.Binary(op, a.Pointer<float>(), BroadcastStrides(a, shape), b.Pointer<float>(), BroadcastStrides(b, shape), y.Pointer<float>(), shape); }
        }
        int[] shapeA = a.ShapeArray, shapeB = b.ShapeArray;
        return AutogradEngine.Record(y, name, [a, b], g =>
        {
            Tensor? ga = null, gb = null;
            switch (op)
            {
                case BinaryOp.Add:
                    ga = g; gb = g; break;
                case BinaryOp.Subtract:
                    ga = g; gb = b.RequiresGrad ? -g : null; break;
                case BinaryOp.Multiply:
                    ga = a.RequiresGrad ? g * b : null; gb = b.RequiresGrad ? g * a : null; break;
                case BinaryOp.Divide:
                    ga = a.RequiresGrad ? g / b : null; gb = b.RequiresGrad ? -(g * y / b) : null; break;
                case BinaryOp.Maximum:
                case BinaryOp.Minimum:
                {
                    var wins = op == BinaryOp.Maximum ? Greater(a, b).ToFloat() : Less(a, b).ToFloat();
                    var ties = Equal(a, b).ToFloat() * 0.5f;
                    ga = g * (wins + ties);
                    gb = g * (1f - wins - ties);
                    break;
                }
                case BinaryOp.Pow:
                    ga = a.RequiresGrad ? g * b * Pow(a, b - 1f) : null;
                    gb = b.RequiresGrad ? Where(Equal(a, 0f), 0f, g * y * Log(a)) : null;
                    break;
            }
            return [ga is null || !a.RequiresGrad ? null : SumToShape(ga, shapeA), gb is null || !b.RequiresGrad ? null : SumToShape(gb, shapeB)];
        });
    }

    private static Tensor Compare(CompareOp op, Tensor a, Tensor b, string name)
    {
        if (a.DType != DType.Float32) a = ToFloat(a);
        if (b.DType != DType.Float32) b = ToFloat(b);
        Device device = GpuDeviceOf(a, b) ?? a.Device;
        (a, b) = (HostScalarTo(a, device), HostScalarTo(b, device));
        CheckSameDevice(name, a, b);
        int[] shape = Shapes.Broadcast(a.Shape, b.Shape, name);
        var y = Tensor.Allocate(shape, DType.Bool, a.Device, zero: false);
        if (device.IsGpu)
        {
            GpuElementwise.Compare(y.Gpu.Launcher, op, a.DeviceStorageView<float>(), b.DeviceStorageView<float>(),
                StridedIndex.Create(shape, BroadcastStrides(a, shape), BroadcastStrides(b, shape)), y.DeviceView<bool>());
            return y;
        }
        unsafe { Elementwise.Compare(op, a.Pointer<float>(), BroadcastStrides(a, shape), b.Pointer<float>(), BroadcastStrides(b, shape), y.Pointer<bool>(), shape); }
        return y;
    }

    private static Tensor Map(UnaryOp op, Tensor x, string name, Func<Tensor, Tensor, Tensor> backward)
    {
        x.ExpectFloat(name, "input");
        var y = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            GpuElementwise.Map(x.Gpu.Launcher, op, x.DeviceStorageView<float>(), StridedIndex.Create(x.Shape, x.Strides), y.DeviceView<float>());
        }
        else
        {
            var dense = x.Contiguous();
            unsafe { Kernels.Cpu.Unary.Run(op, dense.Pointer<float>(), y.Pointer<float>(), y.Numel); }
        }
        return AutogradEngine.Record(y, name, [x], g => [backward(g, y)]);
    }

    /// <summary>gradOutput * op'(x) through the kernel's derivative table.</summary>
    private static Tensor MapBackward(UnaryOp op, Tensor x, Tensor gradOutput)
    {
        var dense = x.Contiguous();
        var g = gradOutput.Contiguous();
        var gradInput = Tensor.Allocate(x.Shape, DType.Float32, x.Device, zero: false);
        if (x.Device.IsGpu)
        {
            GpuElementwise.MapBackward(x.Gpu.Launcher, op, dense.DeviceView<float>(), g.DeviceView<float>(), gradInput.DeviceView<float>());
            return gradInput;
        }
        unsafe { Kernels.Cpu.Unary.Backward(op, dense.Pointer<float>(), g.Pointer<float>(), gradInput.Pointer<float>(), gradInput.Numel); }
        return gradInput;
    }

    /// <summary>Strides that read <paramref name="t"/> as if broadcast to <paramref name="shape"/> (0 on broadcast dims).</summary>
    internal static int[] BroadcastStrides(Tensor t, int[] shape)
    {
        var strides = new int[shape.Length];
        int lead = shape.Length - t.Rank;
        for (int i = lead; i < shape.Length; i++)
            strides[i] = t.ShapeArray[i - lead] == 1 && shape[i] != 1 ? 0 : t.StridesArray[i - lead];
        return strides;
    }

    /// <summary>Whether <paramref name="t"/> is a CPU 0-d tensor used beside a GPU tensor <paramref name="other"/>.</summary>
    private static bool IsHostScalarBeside(Tensor t, Tensor other) => t.Device.IsCpu && t.Rank == 0 && other.Device.IsGpu;

    /// <summary>The device of the first GPU tensor among <paramref name="tensors"/>, or null when all are on the CPU.</summary>
    private static Device? GpuDeviceOf(params Tensor[] tensors) => tensors.FirstOrDefault(t => t.Device.IsGpu)?.Device;

    /// <summary>A CPU 0-d tensor moved to the GPU <paramref name="device"/> (PyTorch accepts CPU scalars beside CUDA tensors); anything else unchanged.</summary>
    private static Tensor HostScalarTo(Tensor t, Device device) => device.IsGpu && t.Device.IsCpu && t.Rank == 0 ? t.To(device) : t;

    internal static void CheckSameDevice(string op, params Tensor[] tensors)
    {
        for (int i = 1; i < tensors.Length; i++)
            if (tensors[i].Device != tensors[0].Device)
                throw new TensorDeviceException($"{op}: expected every tensor on {tensors[0].Device}, found argument {i} on {tensors[i].Device}; move it with To({tensors[0].Device})");
    }

    internal static void ExpectBool(Tensor t, string op, string argument)
    {
        if (t.DType != DType.Bool)
            throw new TensorDTypeException($"{op}: '{argument}' expected a bool tensor, found {t.DType.Name()}; build masks with comparisons (Greater, Equal...)", argument);
    }
}
