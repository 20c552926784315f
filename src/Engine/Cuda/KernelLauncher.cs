using System.Globalization;
using System.Reflection;
using Tessera.Engine.Compiler;
using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda;

/// <summary>
/// Compiles kernels (through the cache), loads their PTX once per driver and launches them with
/// arguments given as the C# method's parameters: views (or DeviceBuffers), scalars and structs,
/// flattened into scalar .params in declaration order.
/// </summary>
public sealed partial class KernelLauncher : IDisposable
{
    private readonly Dictionary<CompiledKernel, FunctionHandle> _loaded = [];
    private readonly List<ModuleHandle> _modules = [];

    public KernelLauncher(IDriver driver, GpuTarget target = GpuTarget.Sm80)
    {
        ArgumentNullException.ThrowIfNull(driver);
        Driver = driver;
        Target = target;
    }

    public IDriver Driver { get; }

    /// <summary>
    /// Serialises use of the driver: every launch takes it, and <see cref="GpuContext"/> takes it for
    /// allocations and copies, so several host threads (SIMT virtual devices) can share one device.
    /// </summary>
    public object SyncRoot { get; } = new();

    public GpuTarget Target { get; }

    /// <summary>The stream launches go to (the default stream unless set).</summary>
    public StreamHandle Stream { get; set; }

    /// <summary>Compiles (cached) and launches <paramref name="kernel"/> without dynamic shared memory or specialisation.</summary>
    public CompiledKernel Launch(MethodInfo kernel, Dim3 grid, Dim3 block, params object[] arguments)
        => Launch(KernelCompiler.Compile(kernel, Target), grid, block, 0, arguments);

    public CompiledKernel Launch(CompiledKernel kernel, Dim3 grid, Dim3 block, int dynamicSharedBytes, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(arguments);
        List<byte[]> parameters = Flatten(kernel, arguments);
        lock (SyncRoot)
        {
            if (!_loaded.TryGetValue(kernel, out FunctionHandle function))
            {
                ModuleHandle module = Driver.LoadModule(kernel.Ptx);
                _modules.Add(module);
                function = Driver.GetFunction(module, kernel.EntryName);
                _loaded[kernel] = function;
            }
            Driver.Launch(function, grid, block, dynamicSharedBytes, Stream, parameters);
        }
        return kernel;
    }

    /// <summary>The bytes of every scalar .param of <paramref name="kernel"/> for these C# arguments.</summary>
    public static List<byte[]> Flatten(CompiledKernel kernel, object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(arguments);
        ParameterInfo[] ps = kernel.Method.GetParameters();
        if (arguments.Length != ps.Length)
            throw new ArgumentException($"kernel '{KernelNames.Of(kernel.Method)}' takes {ps.Length} arguments ({string.Join(", ", ps.Select(p => p.Name))}); got {arguments.Length}", nameof(arguments));
        var result = new List<byte[]>();
        for (int i = 0; i < ps.Length; i++)
        {
            if (kernel.Specialisation.TryGetValue(ps[i].Name!, out object? constant))
            {
                if (!Equals(System.Convert.ChangeType(arguments[i], ps[i].ParameterType, CultureInfo.InvariantCulture), System.Convert.ChangeType(constant, ps[i].ParameterType, CultureInfo.InvariantCulture)))
                    throw new ArgumentException($"kernel '{KernelNames.Of(kernel.Method)}' was specialised with {ps[i].Name} = {constant} but launched with {arguments[i]}", nameof(arguments));
                continue;
            }
            Add(result, arguments[i], ps[i].ParameterType, ps[i].Name!);
        }
        return result;
    }

    private static void Add(List<byte[]> output, object? value, Type type, string name)
    {
        if (value is null)
            throw new ArgumentNullException(name, $"kernel argument '{name}' is null");
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(DeviceSpan<>))
        {
            if (value.GetType() != type)
            {
                PropertyInfo? view = value.GetType().GetProperty("View");
                value = view?.PropertyType == type ? view.GetValue(value)! : throw new ArgumentException($"kernel argument '{name}' must be a {Describe(type)} (or a DeviceBuffer of the same element type); got {value.GetType().Name}", name);
            }
            output.Add(BitConverter.GetBytes((ulong)type.GetProperty("Address")!.GetValue(value)!));
            output.Add(BitConverter.GetBytes((int)type.GetProperty("Length")!.GetValue(value)!));
            return;
        }
        if (type.IsValueType && !type.IsPrimitive && !type.IsEnum)
        {
            foreach (FieldInfo f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                Add(output, f.GetValue(value), f.FieldType, name + "." + f.Name);
            return;
        }
        object v = System.Convert.ChangeType(value, type.IsEnum ? Enum.GetUnderlyingType(type) : type, CultureInfo.InvariantCulture);
        output.Add(v switch
        {
            sbyte x => BitConverter.GetBytes((int)x),
            byte x => BitConverter.GetBytes((int)x),
            short x => BitConverter.GetBytes((int)x),
            ushort x => BitConverter.GetBytes((int)x),
            char x => BitConverter.GetBytes((int)x),
            int x => BitConverter.GetBytes(x),
            uint x => BitConverter.GetBytes(x),
            long x => BitConverter.GetBytes(x),
            ulong x => BitConverter.GetBytes(x),
            float x => BitConverter.GetBytes(x),
            double x => BitConverter.GetBytes(x),
            _ => throw new ArgumentException($"kernel argument '{name}' has type {type.Name}, which kernels cannot take", name),
        });
    }

    private static string Describe(Type t) => $"DeviceSpan<{t.GetGenericArguments()[0].Name}>";

    public void Dispose()
    {
        foreach (ModuleHandle m in _modules)
            Driver.UnloadModule(m);
        _modules.Clear();
        _loaded.Clear();
    }
}
