namespace Tessera.Engine.Gpu;

/// <summary>
/// Marks a static method as a GPU kernel. Parameters are scalars, <see cref="DeviceSpan{T}"/> views
/// and unmanaged structs (functors); the body uses the kernel subset of C# described in docs/GPU.md.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class KernelAttribute : Attribute
{
}

/// <summary>
/// Marks a kernel parameter whose value is baked into the compiled PTX as a constant
/// (a specialisation constant). Each distinct value is a separate cache entry.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class SpecializeAttribute : Attribute
{
}
