using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Cuda;
using Tessera.Engine.Gpu;

namespace Tessera.Ilgpu;

/// <summary>
/// Launches ILGPU kernels on Tessera tensors: the kernel is compiled offline by ILGPU
/// (<see cref="IlgpuCompiler"/>), its PTX loaded through the tensors' own device (Tessera's CUDA
/// driver or the PTX emulator: one context, Tessera's allocator) and launched on Tessera's stream.
/// An <c>ArrayView&lt;T&gt;</c> parameter takes a contiguous GPU tensor of the matching dtype,
/// passed as ILGPU's parameter blob {pointer, length}; scalar parameters take numbers.
/// <code>
/// static void Scale(Index1D i, ArrayView&lt;float&gt; x, float factor, ArrayView&lt;float&gt; y) => y[i] = x[i] * factor;
/// IlgpuLaunch.Implicit(Scale, x.Numel, x, 2f, y);          // one thread per element
/// </code>
/// </summary>
public static class IlgpuLaunch
{
    /// <summary>Threads per group of implicitly grouped launches.</summary>
    public const int ImplicitGroupSize = 256;

    private static readonly ConditionalWeakTable<IDriver, ConcurrentDictionary<IlgpuKernel, FunctionHandle>> s_loaded = new();

    /// <summary>Runs an <c>Index1D</c> kernel over <paramref name="extent"/> indices.</summary>
    public static void Implicit(Delegate kernel, int extent, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        Implicit(kernel.Method, extent, arguments);
    }

    /// <inheritdoc cref="Implicit(Delegate, int, object[])"/>
    public static void Implicit(MethodInfo kernel, int extent, params object[] arguments)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(extent);
        GpuContext gpu = DeviceOf(kernel, arguments);
        IlgpuKernel compiled = IlgpuCompiler.Compile(kernel, IlgpuGrouping.Implicit, gpu.Launcher.Target);
        if (extent == 0)
            return;
        var parameters = new List<byte[]> { BitConverter.GetBytes(extent) };
        Flatten(compiled, kernel.GetParameters().Skip(1).ToArray(), arguments, parameters);
        Run(gpu, compiled, new Dim3((int)(((long)extent + ImplicitGroupSize - 1) / ImplicitGroupSize), 1, 1), new Dim3(ImplicitGroupSize, 1, 1), parameters);
    }

    /// <summary>Runs an explicitly grouped kernel on <paramref name="gridSize"/> groups of <paramref name="groupSize"/> threads.</summary>
    public static void Explicit(Delegate kernel, int gridSize, int groupSize, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        Explicit(kernel.Method, gridSize, groupSize, arguments);
    }

    /// <inheritdoc cref="Explicit(Delegate, int, int, object[])"/>
    public static void Explicit(MethodInfo kernel, int gridSize, int groupSize, params object[] arguments)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gridSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groupSize);
        GpuContext gpu = DeviceOf(kernel, arguments);
        IlgpuKernel compiled = IlgpuCompiler.Compile(kernel, IlgpuGrouping.Explicit, gpu.Launcher.Target);
        var parameters = new List<byte[]>();
        Flatten(compiled, kernel.GetParameters(), arguments, parameters);
        Run(gpu, compiled, new Dim3(gridSize, 1, 1), new Dim3(groupSize, 1, 1), parameters);
    }

    private static void Run(GpuContext gpu, IlgpuKernel kernel, Dim3 grid, Dim3 block, List<byte[]> parameters)
    {
        KernelLauncher launcher = gpu.Launcher;
        lock (launcher.SyncRoot)
        {
            ConcurrentDictionary<IlgpuKernel, FunctionHandle> loaded = s_loaded.GetValue(gpu.Driver, _ => new());
            if (!loaded.TryGetValue(kernel, out FunctionHandle function))
            {
                Tessera.Engine.Cuda.ModuleHandle module = gpu.Driver.LoadModule(kernel.Ptx);
                function = gpu.Driver.GetFunction(module, kernel.EntryName);
                loaded[kernel] = function;
            }
            gpu.Driver.Launch(function, grid, block, 0, launcher.Stream, parameters);
        }
    }

    /// <summary>The one GPU device every tensor argument lives on.</summary>
    private static GpuContext DeviceOf(MethodInfo kernel, object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(arguments);
        Device? device = null;
        for (int i = 0; i < arguments.Length; i++)
        {
            if (arguments[i] is not Tensor t)
                continue;
            if (!t.Device.IsGpu)
                throw new TensorDeviceException($"ILGPU kernel '{kernel.Name}': argument {i} is a tensor on {t.Device}; ILGPU kernels run on cuda or cuda-emu tensors (move it with To(device), or give the op a CPU implementation)");
            if (device is not null && t.Device != device)
                throw new TensorDeviceException($"ILGPU kernel '{kernel.Name}': tensors on two devices ({device} and {t.Device}, argument {i}); move them to one device");
            device = t.Device;
        }
        return device is null
            ? throw new ArgumentException($"ILGPU kernel '{kernel.Name}' got no tensor argument, so there is no device to launch it on", nameof(arguments))
            : GpuContext.For(device);
    }

    /// <summary>The .param bytes of each kernel parameter: ArrayView blobs {pointer, length} and scalars.</summary>
    private static void Flatten(IlgpuKernel kernel, ParameterInfo[] ps, object[] arguments, List<byte[]> output)
    {
        string name = kernel.Method.Name;
        if (arguments.Length != ps.Length)
            throw new ArgumentException($"ILGPU kernel '{name}' takes {ps.Length} arguments ({string.Join(", ", ps.Select(p => p.Name))}) after its index; got {arguments.Length}", nameof(arguments));
        for (int i = 0; i < ps.Length; i++)
        {
            Type type = ps[i].ParameterType;
            object value = arguments[i] ?? throw new ArgumentNullException(nameof(arguments), $"ILGPU kernel '{name}': argument '{ps[i].Name}' is null");
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView<>))
            {
                Type element = type.GetGenericArguments()[0];
                if (value is not Tensor t)
                    throw new ArgumentException($"ILGPU kernel '{name}': parameter '{ps[i].Name}' is ArrayView<{element.Name}> and takes a tensor; got {value.GetType().Name}", nameof(arguments));
                DType expected = ElementDType(element, name, ps[i].Name!);
                if (t.DType != expected)
                    throw new TensorDTypeException($"ILGPU kernel '{name}': parameter '{ps[i].Name}' is ArrayView<{element.Name}>, so it takes a {expected.Name()} tensor; got {t.DType.Name()} (convert with To(DType.{expected}))");
                if (!t.IsContiguous)
                    throw new ArgumentException($"ILGPU kernel '{name}': the tensor for '{ps[i].Name}' is a non-contiguous view; call Contiguous() first", nameof(arguments));
                var blob = new byte[16];
                BitConverter.TryWriteBytes(blob.AsSpan(0, 8), t.DeviceAddress.Address);
                BitConverter.TryWriteBytes(blob.AsSpan(8, 8), (long)t.Numel);
                output.Add(blob);
                continue;
            }
            output.Add(Scalar(value, type, name, ps[i].Name!));
        }
    }

    private static DType ElementDType(Type element, string kernel, string parameter)
    {
        if (element == typeof(float))
            return DType.Float32;
        if (element == typeof(int))
            return DType.Int32;
        if (element == typeof(long))
            return DType.Int64;
        throw new ArgumentException($"ILGPU kernel '{kernel}': ArrayView<{element.Name}> ('{parameter}') has no tensor dtype; use float, int or long views");
    }

    private static byte[] Scalar(object value, Type type, string kernel, string parameter)
    {
        if (!type.IsPrimitive)
            throw new ArgumentException($"ILGPU kernel '{kernel}': parameter '{parameter}' has type {type.Name}; custom ops take ArrayView<T> tensors and primitive scalars (pass struct fields as separate scalars)");
        object v = Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture);
        return v switch
        {
            int x => BitConverter.GetBytes(x),
            uint x => BitConverter.GetBytes(x),
            long x => BitConverter.GetBytes(x),
            ulong x => BitConverter.GetBytes(x),
            float x => BitConverter.GetBytes(x),
            double x => BitConverter.GetBytes(x),
            _ => throw new ArgumentException($"ILGPU kernel '{kernel}': scalar parameter '{parameter}' of type {type.Name} is not supported; use int, uint, long, ulong, float or double"),
        };
    }
}
