using System.Collections.Concurrent;
using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Frontend.Intrinsic;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Tessera.Engine.Compiler;

namespace Tessera.Ilgpu;

/// <summary>How an ILGPU kernel finds its thread: <c>Index1D</c> first parameter, or explicit grid/group indices.</summary>
public enum IlgpuGrouping
{
    /// <summary><c>static void K(Index1D i, ...)</c>: one thread per index, launched over an extent.</summary>
    Implicit,

    /// <summary><c>static void K(...)</c> with <c>Grid.IdxX</c>, <c>Group.IdxX</c>, shared memory, barriers: launched with a grid and a group size.</summary>
    Explicit,
}

/// <summary>An ILGPU kernel compiled to PTX for one architecture.</summary>
public sealed class IlgpuKernel
{
    internal IlgpuKernel(MethodInfo method, IlgpuGrouping grouping, GpuTarget target, string ptx, string entryName)
    {
        Method = method;
        Grouping = grouping;
        Target = target;
        Ptx = ptx;
        EntryName = entryName;
    }

    public MethodInfo Method { get; }

    public IlgpuGrouping Grouping { get; }

    public GpuTarget Target { get; }

    /// <summary>The PTX ILGPU wrote (ISA 7.8).</summary>
    public string Ptx { get; }

    /// <summary>The .entry name in <see cref="Ptx"/>.</summary>
    public string EntryName { get; }

    public override string ToString() => $"{Method.DeclaringType?.Name}.{Method.Name} ({Grouping}, {Target})";
}

/// <summary>
/// Compiles ILGPU kernels offline (no GPU needed) with ILGPU's PTX backend, once per method,
/// generic arguments and architecture. <c>MathF.FusedMultiplyAdd</c> is remapped to an exact
/// <c>fma.rn.f32</c> (ILGPU 1.5.3 would otherwise leave it as an unresolved extern function).
/// </summary>
public static class IlgpuCompiler
{
    private static readonly ConcurrentDictionary<(MethodInfo, IlgpuGrouping, GpuTarget), IlgpuKernel> s_cache = new();
    private static readonly object s_lock = new();
    private static Context? s_context;
    private static readonly Dictionary<GpuTarget, PTXBackend> s_backends = [];

    /// <summary>Compiles (or returns the cached) PTX of <paramref name="kernel"/>.</summary>
    public static IlgpuKernel Compile(MethodInfo kernel, IlgpuGrouping grouping, GpuTarget target = GpuTarget.Sm80)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return s_cache.GetOrAdd((kernel, grouping, target), key => CompileUncached(key.Item1, key.Item2, key.Item3));
    }

    /// <summary>Kernels compiled so far (for cache tests).</summary>
    public static int CachedCount => s_cache.Count;

    /// <summary>Compiles without the cache (compile-time measurements).</summary>
    internal static IlgpuKernel CompileUncached(MethodInfo kernel, IlgpuGrouping grouping, GpuTarget target)
    {
        string name = $"{kernel.DeclaringType?.Name}.{kernel.Name}";
        if (!kernel.IsStatic)
            throw new ArgumentException($"ILGPU kernel '{name}' must be a static method (an instance method or a lambda with captures cannot be compiled)", nameof(kernel));
        if (kernel.ContainsGenericParameters)
            throw new ArgumentException($"ILGPU kernel '{name}' is an open generic method; close it with MakeGenericMethod first", nameof(kernel));
        ParameterInfo[] ps = kernel.GetParameters();
        bool indexFirst = ps.Length > 0 && ps[0].ParameterType == typeof(Index1D);
        if (grouping == IlgpuGrouping.Implicit && !indexFirst)
            throw new ArgumentException($"ILGPU kernel '{name}' is launched with implicit grouping, so its first parameter must be Index1D; found {(ps.Length == 0 ? "no parameters" : ps[0].ParameterType.Name)} (use IlgpuGrouping.Explicit for Grid/Group-indexed kernels)", nameof(kernel));
        if (ps.Length > 0 && ps[0].ParameterType is { } first && (first == typeof(Index2D) || first == typeof(Index3D)))
            throw new ArgumentException($"ILGPU kernel '{name}': {first.Name} kernels are not supported; index a flattened Index1D (i / width, i % width)", nameof(kernel));
        if (grouping == IlgpuGrouping.Explicit && indexFirst)
            throw new ArgumentException($"ILGPU kernel '{name}' takes an Index1D, so it is implicitly grouped; use IlgpuGrouping.Implicit", nameof(kernel));
        lock (s_lock)
        {
            PTXBackend backend = Backend(target);
            EntryPointDescription entry = grouping == IlgpuGrouping.Implicit
                ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
                : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
            PTXCompiledKernel compiled;
            try
            {
                compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new IlgpuCompileException($"ILGPU could not compile kernel '{name}' for {target}: {e.Message}", e);
            }
            string ptx = compiled.PTXAssembly;
            if (ptx.Contains(".extern .func", StringComparison.Ordinal))
            {
                string extern0 = ptx[ptx.IndexOf(".extern .func", StringComparison.Ordinal)..].Split('\n')[0];
                throw new IlgpuCompileException($"ILGPU compiled kernel '{name}' with a call to a function it has no body for ({extern0.Trim()}); .NET BCL methods ILGPU does not know (System.Half bit casts, Math.Clamp, ...) must be replaced by plain arithmetic or XMath");
            }
            string entryName = EntryName(ptx) ?? throw new IlgpuCompileException($"ILGPU's PTX for '{name}' has no .entry");
            return new IlgpuKernel(kernel, grouping, target, ptx, entryName);
        }
    }

    private static string? EntryName(string ptx)
    {
        int at = ptx.IndexOf(".entry ", StringComparison.Ordinal);
        if (at < 0)
            return null;
        int start = at + ".entry ".Length;
        int end = ptx.IndexOf('(', start);
        return ptx[start..end].Trim();
    }

    private static PTXBackend Backend(GpuTarget target)
    {
        if (s_backends.TryGetValue(target, out PTXBackend? backend))
            return backend;
        if (s_context is null)
        {
            // MathF.FusedMultiplyAdd → one exact fma.rn.f32 (see TesseraIntrinsics).
            RemappedIntrinsics.AddRemapping(typeof(MathF), typeof(IlgpuIntrinsics), nameof(MathF.FusedMultiplyAdd), typeof(float), typeof(float), typeof(float));
            s_context = Context.Create(builder => builder.Math(MathMode.Default).EnableAlgorithms());
        }
        CudaArchitecture arch = target == GpuTarget.Sm90 ? CudaArchitecture.SM_90 : CudaArchitecture.SM_80;
        backend = new PTXBackend(s_context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, nvvmAPI: null);
        s_backends[target] = backend;
        return backend;
    }
}

/// <summary>Device-side bodies of BCL methods ILGPU 1.5.3 does not compile by itself.</summary>
public static class IlgpuIntrinsics
{
    /// <summary>a · b + c rounded once (fma.rn.f32), as <see cref="MathF.FusedMultiplyAdd"/> on the CPU.</summary>
    public static float FusedMultiplyAdd(float a, float b, float c)
    {
        CudaAsm.Emit("fma.rn.f32 %0, %1, %2, %3;", out float result, a, b, c);
        return result;
    }
}

/// <summary>ILGPU rejected a kernel, or its PTX calls a function without a body.</summary>
public sealed class IlgpuCompileException : Exception
{
    public IlgpuCompileException() { }

    public IlgpuCompileException(string message) : base(message) { }

    public IlgpuCompileException(string message, Exception inner) : base(message, inner) { }
}
