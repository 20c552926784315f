using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using Tessera.Engine.Compiler.Frontend;
using Tessera.Engine.Compiler.IR;
using Tessera.Engine.Compiler.Passes;
using Tessera.Engine.Compiler.Ptx;

namespace Tessera.Engine.Compiler;

/// <summary>PTX targets the compiler emits for.</summary>
public enum GpuTarget
{
    /// <summary>Ampere (A100): the default.</summary>
    Sm80,

    /// <summary>Hopper (H100).</summary>
    Sm90,
}

/// <summary>A kernel compiled to PTX, with what the launcher needs to marshal its arguments.</summary>
public sealed class CompiledKernel
{
    internal CompiledKernel(MethodInfo method, string entryName, string ptx, GpuTarget target,
        IReadOnlyDictionary<string, object> specialisation, int staticSharedBytes, TimeSpan compileTime)
    {
        Method = method;
        EntryName = entryName;
        Ptx = ptx;
        Target = target;
        Specialisation = specialisation;
        StaticSharedBytes = staticSharedBytes;
        CompileTime = compileTime;
    }

    public MethodInfo Method { get; }

    /// <summary>The .entry name in the PTX module.</summary>
    public string EntryName { get; }

    public string Ptx { get; }

    public GpuTarget Target { get; }

    public IReadOnlyDictionary<string, object> Specialisation { get; }

    public int StaticSharedBytes { get; }

    /// <summary>Wall time of the compilation that produced this entry (not of cached lookups).</summary>
    public TimeSpan CompileTime { get; }
}

/// <summary>
/// Compiles [Kernel] methods to PTX and caches the result by (method with its generic arguments,
/// specialisation constants, target).
/// </summary>
public static class KernelCompiler
{
    private static readonly ConcurrentDictionary<CacheKey, Lazy<CompiledKernel>> s_cache = new();

    /// <summary>Constructed MethodInfos are unique per generic instantiation, so the method itself carries its generic arguments.</summary>
    private readonly record struct CacheKey(MethodInfo Method, GpuTarget Target, string Specialisation);

    public static string TargetName(GpuTarget target) => target == GpuTarget.Sm90 ? "sm_90" : "sm_80";

    /// <summary>
    /// Compiles (or returns the cached) kernel. <paramref name="specialisation"/> maps parameter
    /// names to constant values baked into the PTX; generic methods must be constructed (MakeGenericMethod).
    /// </summary>
    public static CompiledKernel Compile(MethodInfo method, GpuTarget target = GpuTarget.Sm80, IReadOnlyDictionary<string, object>? specialisation = null)
    {
        ArgumentNullException.ThrowIfNull(method);
        specialisation ??= new Dictionary<string, object>();
        var key = new CacheKey(method, target, SpecialisationKey(specialisation));
        Lazy<CompiledKernel> entry = s_cache.GetOrAdd(key, _ => new Lazy<CompiledKernel>(() => CompileUncached(method, target, specialisation)));
        try
        {
            return entry.Value;
        }
        catch
        {
            s_cache.TryRemove(key, out _);
            throw;
        }
    }

    /// <summary>Compiles without the cache (for measuring compile time).</summary>
    public static CompiledKernel CompileUncached(MethodInfo method, GpuTarget target, IReadOnlyDictionary<string, object> specialisation)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(specialisation);
        if (method.ContainsGenericParameters)
            throw new ArgumentException($"kernel '{KernelNames.Of(method)}' is generic; construct it first, e.g. method.MakeGenericMethod(typeof(float))", nameof(method));
        if (method.GetCustomAttribute<Gpu.KernelAttribute>() is null)
            throw new ArgumentException($"'{KernelNames.Of(method)}' is not marked [Kernel]; add the attribute to compile it for the GPU", nameof(method));
        foreach (string name in specialisation.Keys)
            if (method.GetParameters().All(p => p.Name != name))
                throw new ArgumentException($"kernel '{KernelNames.Of(method)}' has no parameter '{name}' to specialise; parameters are {string.Join(", ", method.GetParameters().Select(p => p.Name))}", nameof(specialisation));
        var clock = Stopwatch.StartNew();
        string ptx;
        Function f;
        try
        {
            f = Translator.Translate(method, specialisation);
            Optimize(f);
            ptx = PtxEmitter.Emit(f, TargetName(target), KernelNames.Of(method));
        }
        catch (Exception e) when (e is not KernelCompileException)
        {
            throw new KernelCompileException($"kernel '{KernelNames.Of(method)}': internal compiler error ({e.GetType().Name}: {e.Message}). " +
                "The kernel may use a construct the compiler mishandles; simplify the failing statement and report the kernel.", e);
        }
        int shared = f.SharedAllocations.Sum(a => a.Bytes);
        return new CompiledKernel(method, f.Name, ptx, target, specialisation, shared, clock.Elapsed);
    }

    internal static void Optimize(Function f)
    {
        Cfg.ResolveUses(f);
        for (int round = 0; round < 512; round++)
        {
            bool changed = ConstantFolding.Run(f);
            changed |= DeadCode.Run(f);
            changed |= SimplifyCfg.Run(f);
            if (!changed && !LoopUnrolling.Run(f) && !LocalPromotion.Run(f) && !CommonSubexpressions.Run(f))
                break;
        }
        Cfg.SplitCriticalEdges(f);
        AddressSpaces.Infer(f);
    }

    private static string SpecialisationKey(IReadOnlyDictionary<string, object> specialisation)
    {
        if (specialisation.Count == 0)
            return "";
        var sb = new StringBuilder();
        foreach (KeyValuePair<string, object> kv in specialisation.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append(kv.Key).Append('=').Append(Convert.ToString(kv.Value, CultureInfo.InvariantCulture)).Append('|');
        return sb.ToString();
    }
}

/// <summary>Readable and PTX-safe names for kernels.</summary>
public static class KernelNames
{
    /// <summary>"Type.Method&lt;generic args&gt;".</summary>
    public static string Of(MethodInfo method)
    {
        ArgumentNullException.ThrowIfNull(method);
        string name = $"{method.DeclaringType?.Name}.{method.Name}";
        return method.IsGenericMethod ? $"{name}<{string.Join(",", method.GetGenericArguments().Select(Pretty))}>" : name;
    }

    private static string Pretty(Type t)
    {
        if (!t.IsGenericType)
            return t.Name;
        string name = t.Name[..t.Name.IndexOf('`', StringComparison.Ordinal)];
        return $"{name}<{string.Join(",", t.GetGenericArguments().Select(Pretty))}>";
    }

    /// <summary>The PTX .entry name: type, method, generic arguments and specialisation values.</summary>
    public static string PtxName(MethodInfo method, IReadOnlyDictionary<string, object> specialisation)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(specialisation);
        var sb = new StringBuilder();
        sb.Append(method.DeclaringType?.Name).Append('_').Append(method.Name);
        if (method.IsGenericMethod)
            foreach (Type t in method.GetGenericArguments())
                sb.Append('_').Append(Pretty(t));
        foreach (KeyValuePair<string, object> kv in specialisation.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append('_').Append(kv.Key).Append(Convert.ToString(kv.Value, CultureInfo.InvariantCulture));
        return new string(sb.ToString().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray()).Replace("__", "_", StringComparison.Ordinal).TrimEnd('_');
    }
}
