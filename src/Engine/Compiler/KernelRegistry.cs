using System.Reflection;

namespace Tessera.Engine.Compiler;

/// <summary>One registered kernel: a constructed [Kernel] method plus specialisation constants.</summary>
public sealed record KernelEntry(string Name, MethodInfo Method, IReadOnlyDictionary<string, object> Specialisation)
{
    public KernelEntry(string name, MethodInfo method)
        : this(name, method, new Dictionary<string, object>())
    {
    }

    /// <summary>Compiles (cached) for <paramref name="target"/>.</summary>
    public CompiledKernel Compile(GpuTarget target = GpuTarget.Sm80) => KernelCompiler.Compile(Method, target, Specialisation);

    /// <summary>This kernel with <paramref name="parameter"/> baked in as a constant.</summary>
    public KernelEntry Specialise(string parameter, object value)
    {
        var constants = new Dictionary<string, object>(Specialisation) { [parameter] = value };
        return new KernelEntry($"{Name}[{string.Join(",", constants.Select(kv => $"{kv.Key}={kv.Value}"))}]", Method, constants);
    }

    /// <summary>The entry for a static method found by name, with generic arguments when it is generic.</summary>
    public static KernelEntry For(Type owner, string method, params Type[] genericArguments)
    {
        ArgumentNullException.ThrowIfNull(owner);
        MethodInfo m = owner.GetMethod(method, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new ArgumentException($"{owner.Name} has no static method '{method}'", nameof(method));
        if (m.IsGenericMethodDefinition)
            m = m.MakeGenericMethod(genericArguments);
        return new KernelEntry(KernelNames.Of(m), m);
    }
}
