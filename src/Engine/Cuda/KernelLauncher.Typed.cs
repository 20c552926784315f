using Tessera.Engine.Compiler;
using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda;

/// <summary>
/// Typed launches from a method group: <c>launcher.Launch(VectorAdd.Add, grid, block, a.View, b.View, c.View)</c>.
/// The compiler still works from the method's IL; the delegate only names the kernel and checks argument types.
/// </summary>
public sealed partial class KernelLauncher
{
    public CompiledKernel Launch<T1>(Action<T1> kernel, Dim3 grid, Dim3 block, T1 arg1)
        => Launch(Resolve(kernel), grid, block, 0, arg1!);

    public CompiledKernel Launch<T1, T2>(Action<T1, T2> kernel, Dim3 grid, Dim3 block, T1 arg1, T2 arg2)
        => Launch(Resolve(kernel), grid, block, 0, arg1!, arg2!);

    public CompiledKernel Launch<T1, T2, T3>(Action<T1, T2, T3> kernel, Dim3 grid, Dim3 block, T1 arg1, T2 arg2, T3 arg3)
        => Launch(Resolve(kernel), grid, block, 0, arg1!, arg2!, arg3!);

    public CompiledKernel Launch<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel, Dim3 grid, Dim3 block, T1 arg1, T2 arg2, T3 arg3, T4 arg4)
        => Launch(Resolve(kernel), grid, block, 0, arg1!, arg2!, arg3!, arg4!);

    public CompiledKernel Launch<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel, Dim3 grid, Dim3 block, T1 arg1, T2 arg2, T3 arg3, T4 arg4, T5 arg5)
        => Launch(Resolve(kernel), grid, block, 0, arg1!, arg2!, arg3!, arg4!, arg5!);

    public CompiledKernel Launch<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel, Dim3 grid, Dim3 block, T1 arg1, T2 arg2, T3 arg3, T4 arg4, T5 arg5, T6 arg6)
        => Launch(Resolve(kernel), grid, block, 0, arg1!, arg2!, arg3!, arg4!, arg5!, arg6!);

    private CompiledKernel Resolve(Delegate kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.Target is not null)
            throw new ArgumentException($"'{kernel.Method.Name}' is bound to an object (a lambda or instance method); pass a static [Kernel] method", nameof(kernel));
        return KernelCompiler.Compile(kernel.Method, Target);
    }
}
