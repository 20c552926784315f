using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;
using Tessera.Engine.Memory;
using Tessera.Kernels.Cpu;
using Tessera.Kernels.Gpu;

namespace Tessera.Autograd;

/// <summary>
/// An n-dimensional array on a device, a view (shape, strides, offset) over a shared
/// <see cref="Storage"/>, and a node of the autograd graph. Ops live in <see cref="Functional"/>
/// (with the common ones mirrored as instance methods and operators here).
/// Ownership: a tensor holds one reference to its storage; Dispose gives it back. Tensors created
/// inside a <see cref="TensorScope"/> are disposed with the scope unless moved out.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private readonly int[] _shape;
    private int[] _strides;
    private bool _requiresGrad;
    private bool _disposed;

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset, DType dtype)
    {
        Storage = storage;
        _shape = shape;
        _strides = strides;
        Offset = offset;
        DType = dtype;
        Numel = Shapes.Numel(shape);
        TensorScope.Register(this);
    }

    public Storage Storage { get; private set; }

    public DType DType { get; }

    public Device Device => Storage.Device;

    /// <summary>Offset of element [0, ..., 0] in the storage, in elements.</summary>
    public int Offset { get; private set; }

    /// <summary>The sizes of each dimension; prints as "[32, 10]" and converts to a read-only span of ints.</summary>
    public TensorShape Shape => new(_shape);

    public ReadOnlySpan<int> Strides => _strides;

    internal int[] ShapeArray => _shape;

    internal int[] StridesArray => _strides;

    public int Rank => _shape.Length;

    public int Numel { get; }

    /// <summary>Size of <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim) => _shape[Shapes.NormalizeDim(dim, Rank, "Size")];

    /// <summary>An optional label used in error messages and state dicts.</summary>
    public string? Name { get; set; }

    // ---- autograd state ----

    /// <summary>Whether gradients flow to this tensor. Only leaves may be switched on or off by hand.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (GradFn is not null && !value)
                throw new ArgumentException($"RequiresGrad: cannot switch off gradients of a non-leaf tensor (made by {GradFn.Name}); call Detach() to get a leaf that does not require grad");
            if (value && DType != DType.Float32)
                throw new TensorDTypeException($"RequiresGrad: only float32 tensors can require gradients, found {DType.Name()}");
            _requiresGrad = value;
        }
    }

    /// <summary>Accumulated gradient of a leaf (or of a non-leaf after <see cref="RetainGrad"/>).</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The op that produced this tensor, or null for a leaf.</summary>
    public Node? GradFn { get; internal set; }

    public bool IsLeaf => GradFn is null;

    internal bool RetainsGrad { get; private set; }

    /// <summary>Keep <see cref="Grad"/> for this non-leaf tensor during Backward.</summary>
    public Tensor RetainGrad()
    {
        RetainsGrad = true;
        return this;
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor (for chaining).</summary>
    public Tensor RequireGrad(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    /// <summary>A view of the same memory that is cut off from the graph.</summary>
    public Tensor Detach()
    {
        Storage.Retain();
        return new Tensor(Storage, _shape, _strides, Offset, DType);
    }

    /// <summary>Runs backpropagation from this tensor; see <see cref="AutogradEngine.Backward"/>.</summary>
    public void Backward(Tensor? gradient = null) => AutogradEngine.Backward(this, gradient);

    /// <summary>Backpropagation that frees the graph's activations as it goes; see <see cref="AutogradEngine.Backward"/>.</summary>
    public void Backward(Tensor? gradient, bool freeActivations) => AutogradEngine.Backward(this, gradient, freeActivations);

    // ---- layout ----

    public bool IsContiguous
    {
        get
        {
            if (Numel == 0)
                return true; // nothing to lay out; dense strides of a shape with a 0 are not unique
            int expected = 1;
            for (int d = Rank - 1; d >= 0; d--)
            {
                if (_shape[d] != 1 && _strides[d] != expected)
                    return false;
                expected *= _shape[d];
            }
            return true;
        }
    }

    // ---- raw access (kernels and tests) ----

    /// <summary>The elements of a contiguous tensor as a span over its storage.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        CheckElementType<T>("AsSpan");
        if (!IsContiguous)
            throw new InvalidOperationException($"AsSpan: the tensor of shape {Shapes.Format(_shape)} is a non-contiguous view; call Contiguous() first");
        return CpuStore.AsSpan<T>(Offset, Numel);
    }

    /// <summary>Pointer to element [0, ..., 0] of a CPU tensor (honours the view's offset, not its strides).</summary>
    internal unsafe T* Pointer<T>() where T : unmanaged => (T*)CpuStore.Pointer + Offset;

    internal CpuStorage CpuStore
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Storage as CpuStorage ?? throw new TensorDeviceException($"tensor lives on {Device}, which has no CPU-accessible memory; call To(Device.Cpu) first");
        }
    }

    internal GpuStorage GpuStore
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Storage as GpuStorage ?? throw new TensorDeviceException($"tensor lives on {Device}, not on a GPU; call To(device) first");
        }
    }

    /// <summary>The context of this tensor's GPU device (its launcher, allocator and copies).</summary>
    internal GpuContext Gpu => GpuContext.For(Device);

    /// <summary>The device address of element [0, ..., 0] of a GPU tensor (honours the offset, not the strides).</summary>
    internal DevicePointer DeviceAddress => GpuStore.Pointer.Offset((long)Offset * DType.ElementSize());

    /// <summary>The elements of a contiguous GPU tensor as a kernel argument.</summary>
    internal DeviceSpan<T> DeviceView<T>() where T : unmanaged
    {
        CheckElementType<T>("DeviceView");
        if (!IsContiguous)
            throw new InvalidOperationException($"DeviceView: the tensor of shape {Shapes.Format(_shape)} is a non-contiguous view; call Contiguous() first");
        return DeviceSpan<T>.FromAddress(DeviceAddress.Address, Numel);
    }

    /// <summary>
    /// A GPU tensor's storage from element [0, ..., 0] to the end, for kernels that read a strided
    /// view through its <see cref="Strides"/> (any dtype of the same element size).
    /// </summary>
    internal DeviceSpan<T> DeviceStorageView<T>() where T : unmanaged
    {
        long elements = Storage.ByteLength / System.Runtime.CompilerServices.Unsafe.SizeOf<T>() - Offset;
        return DeviceSpan<T>.FromAddress(DeviceAddress.Address, checked((int)Math.Max(elements, 0)));
    }

    /// <summary>Copies the elements out in row-major order, whatever the layout.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        CheckElementType<T>("ToArray");
        var result = new T[Numel];
        var dense = Contiguous();
        if (Device.IsGpu)
            dense.Gpu.CopyToHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.AsSpan()), dense.DeviceAddress);
        else
            dense.AsSpan<T>().CopyTo(result);
        return result;
    }

    public float[] ToArray() => ToArray<float>();

    /// <summary>The value of a one-element tensor.</summary>
    public T Item<T>() where T : unmanaged
    {
        if (Numel != 1)
            throw new TensorShapeException($"Item: expected a tensor with one element, found shape {Shapes.Format(_shape)}; reduce it first (Sum, Mean...)");
        return ToArray<T>()[0];
    }

    public float Item() => Item<float>();

    private void CheckElementType<T>(string op) where T : unmanaged
    {
        if (DTypeExtensions.Of<T>() != DType)
            throw new TensorDTypeException($"{op}: asked for {DTypeExtensions.Of<T>().Name()} elements of a {DType.Name()} tensor");
    }

    /// <summary>A dense copy when this view is not contiguous; otherwise this tensor itself.</summary>
    public Tensor Contiguous()
    {
        if (IsContiguous)
            return this;
        var result = Functional.StridedToDense(this);
        return result;
    }

    // ---- ownership ----

    public bool IsDisposed => _disposed;

    /// <summary>Gives this tensor's reference to its storage back. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Storage.Release();
    }

    public override string ToString() => TensorFormatter.Format(this);

    // ---- creation ----

    /// <summary>Uninitialised memory of the given shape.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null) =>
        Allocate(shape, dtype, device, zero: false);

    public static Tensor Empty(params int[] shape) => Empty(shape.AsSpan());

    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null) =>
        Allocate(shape, dtype, device, zero: true);

    public static Tensor Zeros(params int[] shape) => Zeros(shape.AsSpan());

    public static Tensor Ones(params int[] shape) => Full(shape, 1f);

    public static Tensor Full(ReadOnlySpan<int> shape, float value) => Full(shape, value, null);

    /// <summary>A float32 tensor of <paramref name="shape"/> filled with <paramref name="value"/> on <paramref name="device"/> (CPU when null).</summary>
    public static Tensor Full(ReadOnlySpan<int> shape, float value, Device? device)
    {
        var result = Allocate(shape, DType.Float32, device, zero: false);
        if (result.Device.IsGpu)
            GpuMemoryKernels.FillFloats(result.Gpu, result.DeviceAddress, result.Numel, value);
        else
            result.AsSpan<float>().Fill(value);
        return result;
    }

    public static Tensor ZerosLike(Tensor other) => Zeros(other.Shape, other.DType, other.Device);

    public static Tensor OnesLike(Tensor other) => Full(other.Shape, 1f, other.Device);

    /// <summary>A 0-dim tensor.</summary>
    public static Tensor Scalar(float value) => FromArray(new[] { value }, Array.Empty<int>());

    public static Tensor FromArray(float[] data, params int[] shape) => FromData<float>(data, shape);

    public static Tensor FromArray(int[] data, params int[] shape) => FromData<int>(data, shape);

    public static Tensor FromArray(long[] data, params int[] shape) => FromData<long>(data, shape);

    public static Tensor FromArray(bool[] data, params int[] shape) => FromData<bool>(data, shape);

    /// <summary>Copies <paramref name="data"/> into a new tensor of <paramref name="shape"/> (a 1-d tensor when no shape is given).</summary>
    public static Tensor FromData<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape) where T : unmanaged
    {
        int[] dims = shape.Length == 0 && data.Length != 1 ? new[] { data.Length } : shape.ToArray();
        if (Shapes.Numel(dims) != data.Length)
            throw new TensorShapeException($"FromArray: shape {Shapes.Format(dims)} needs {Shapes.Numel(dims)} elements, found {data.Length}");
        var result = Allocate(dims, DTypeExtensions.Of<T>(), null, zero: false);
        data.CopyTo(result.AsSpan<T>());
        return result;
    }

    /// <summary>0, 1, ..., count - 1 as float32.</summary>
    public static Tensor Arange(int count)
    {
        var result = Empty(count);
        var span = result.AsSpan<float>();
        for (int i = 0; i < count; i++) span[i] = i;
        return result;
    }

    /// <summary>Uniform [0, 1) from <paramref name="generator"/> (default stream when null).</summary>
    public static Tensor Rand(ReadOnlySpan<int> shape, Engine.Random.Generator? generator = null)
    {
        var result = Empty(shape);
        (generator ?? Engine.Random.Generator.Default).Uniform(result.AsSpan<float>());
        return result;
    }

    /// <summary>Standard normal from <paramref name="generator"/> (default stream when null).</summary>
    public static Tensor Randn(ReadOnlySpan<int> shape, Engine.Random.Generator? generator = null)
    {
        var result = Empty(shape);
        (generator ?? Engine.Random.Generator.Default).Normal(result.AsSpan<float>());
        return result;
    }

    internal static Tensor Allocate(ReadOnlySpan<int> shape, DType dtype, Device? device, bool zero)
    {
        device ??= Device.Cpu;
        int[] dims = shape.ToArray();
        int count = Shapes.Numel(dims);
        long bytes = (long)count * dtype.ElementSize();
        Storage storage = device.IsGpu ? GpuContext.For(device).Allocate(bytes, zero) : CpuStorage.Allocate(bytes, zero);
        return new Tensor(storage, dims, Shapes.ContiguousStrides(dims), 0, dtype);
    }

    /// <summary>
    /// Points this tensor at <paramref name="source"/>'s memory (same shape and dtype): how
    /// <c>Module.To</c> moves a parameter to another device while every reference to the parameter
    /// object stays valid. Takes a storage reference and gives this tensor's old one back.
    /// </summary>
    internal void ReplaceData(Tensor source)
    {
        if (!Shapes.Equal(source.Shape, _shape) || source.DType != DType)
            throw new TensorShapeException($"ReplaceData: expected {DType.Name()} {Shapes.Format(_shape)}, found {source.DType.Name()} {Shapes.Format(source.Shape)}");
        ObjectDisposedException.ThrowIf(_disposed, this);
        source.Storage.Retain();
        var old = Storage;
        Storage = source.Storage;
        Offset = source.Offset;
        _strides = source._strides.ToArray();
        old.Release();
    }

    /// <summary>A new view sharing this tensor's storage (takes a storage reference).</summary>
    internal Tensor View(int[] shape, int[] strides, int offset)
    {
        Storage.Retain();
        return new Tensor(Storage, shape, strides, offset, DType);
    }

    /// <summary>Throws unless this tensor is float32 (most ops compute in float32 only).</summary>
    internal Tensor ExpectFloat(string op, string argument)
    {
        if (DType != DType.Float32)
            throw new TensorDTypeException($"{op}: '{argument}' expected a float32 tensor, found {DType.Name()}; convert it with ToFloat()", argument);
        return this;
    }

    internal static unsafe void CopyStrided(Tensor source, Tensor denseDestination)
    {
        if (source.Device.IsGpu)
        {
            Functional.CopyStrided(source, 0, source._strides, denseDestination, 0, source._shape);
            return;
        }
        switch (source.DType.ElementSize())
        {
            case 1: StridedCopy.ToDense(source.Pointer<byte>(), source._shape, source._strides, denseDestination.Pointer<byte>()); break;
            case 4: StridedCopy.ToDense(source.Pointer<int>(), source._shape, source._strides, denseDestination.Pointer<int>()); break;
            case 8: StridedCopy.ToDense(source.Pointer<long>(), source._shape, source._strides, denseDestination.Pointer<long>()); break;
            default: throw new InvalidOperationException($"no copy kernel for {source.DType}");
        }
    }
}
