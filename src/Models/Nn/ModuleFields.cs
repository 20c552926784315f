using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Tessera.Autograd;

namespace Tessera.Models.Nn;

/// <summary>
/// Marks a field (or auto-property) of a <see cref="Module"/> that refers to a module or tensor
/// this module must not own: a frozen teacher, a sibling owned by the parent, a cached constant.
/// Such a field is neither registered automatically nor reported as an unregistered parameter.
/// </summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property, Inherited = true)]
public sealed class UnregisteredAttribute : Attribute;

/// <summary>Holds a list of trainable tensors found in a field, registered as "0", "1", ... (torch.nn.ParameterList).</summary>
internal sealed class ParameterList : Module
{
    public ParameterList(IReadOnlyList<Tensor> parameters)
    {
        Items = parameters;
        for (int i = 0; i < parameters.Count; i++)
            RegisterParameter(i.ToString(CultureInfo.InvariantCulture), parameters[i]);
    }

    [Unregistered]
    public IReadOnlyList<Tensor> Items { get; }
}

public abstract partial class Module
{
    private readonly HashSet<string> _autoNames = new(StringComparer.Ordinal);
    private readonly object _registrationLock = new();
    private bool _registering;

    /// <summary>
    /// Registers what this module's fields hold and is not registered yet: re-run on every query,
    /// so a field assigned after an early query (a constructor calling Parameters()) is still found.
    /// Only the fields of this module; children register theirs when they are enumerated.
    /// </summary>
    private void RegisterFields()
    {
        var fields = ModuleFieldCatalog.For(GetType());
        if (fields.Count == 0)
            return;
        lock (_registrationLock)
        {
            if (_registering)
                return;
            _registering = true;
            try
            {
                HashSet<object>? subtree = null;
                bool Owned(object item)
                {
                    if (ReferenceEquals(item, this) || IsDirect(item))
                        return true;
                    subtree ??= Subtree();
                    return subtree.Contains(item);
                }
                foreach (var field in fields)
                    if (field.Registers)
                        RegisterField(field, field.Info.GetValue(this), Owned);
            }
            finally
            {
                _registering = false;
            }
        }
    }

    private void RegisterField(ModuleField field, object? value, Func<object, bool> owned)
    {
        string name = field.Name;
        bool isAuto = _autoNames.Contains(name);
        object? current = isAuto ? CurrentAuto(name) : null;
        switch (field.Kind)
        {
            case FieldKind.Module:
            case FieldKind.Tensor:
                if (value is Tensor t && !(t.IsLeaf && t.RequiresGrad))
                    value = null; // a tensor that is not trainable is a constant or cache; buffers are registered explicitly
                if (value is not null && ReferenceEquals(value, current))
                    return;
                if (isAuto)
                    RemoveAuto(name);
                if (value is null || owned(value))
                    return;
                AddAuto(field, name, value);
                return;
            case FieldKind.ModuleList:
            case FieldKind.TensorList:
                var items = ((IEnumerable)value! ?? Array.Empty<object>()).Cast<object?>().Where(i => i is not null)
                    .Where(i => i is Module || i is Tensor { IsLeaf: true, RequiresGrad: true }).Cast<object>().ToList();
                if (current is not null && ListItems(current).SequenceEqual(items, ReferenceEqualityComparer.Instance))
                    return;
                if (isAuto)
                    RemoveAuto(name);
                int ownedCount = items.Count(owned);
                if (items.Count == 0 || ownedCount == items.Count)
                    return;
                if (ownedCount > 0)
                    throw new InvalidOperationException($"{GetType().Name}: field '{field.Info.Name}' holds {items.Count} modules or parameters of which {ownedCount} are registered elsewhere and {items.Count - ownedCount} are not; register the list explicitly (a ModuleList), or mark the field [Unregistered] if another module owns its items");
                object container = field.Kind == FieldKind.ModuleList
                    ? new ModuleList<Module>(items.Cast<Module>())
                    : new ParameterList(items.Cast<Tensor>().ToList());
                AddAuto(field, name, container);
                return;
        }
    }

    private void AddAuto(ModuleField field, string name, object value)
    {
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _children.Any(c => c.Name == name))
            throw new InvalidOperationException($"{GetType().Name}: field '{field.Info.Name}' would be registered as '{name}', a name already registered for something else; rename the field, register it explicitly under another name, or mark it [Unregistered]");
        if (value is Tensor tensor)
        {
            tensor.Name = name;
            _parameters.Add((name, tensor));
        }
        else
        {
            var module = (Module)value;
            if (module.NamedModules().Any(m => ReferenceEquals(m.Module, this)))
                throw new InvalidOperationException($"{GetType().Name}: field '{field.Info.Name}' refers to a module that contains this one (a parent or ancestor); mark the field [Unregistered]");
            _children.Add((name, module));
        }
        _autoNames.Add(name);
    }

    private object? CurrentAuto(string name) =>
        (object?)_parameters.FirstOrDefault(p => p.Name == name).Tensor ?? _children.FirstOrDefault(c => c.Name == name).Module;

    private void RemoveAuto(string name)
    {
        _parameters.RemoveAll(p => p.Name == name);
        _children.RemoveAll(c => c.Name == name);
        _autoNames.Remove(name);
    }

    private static IEnumerable<object> ListItems(object container) => container switch
    {
        ModuleList<Module> modules => modules,
        ParameterList parameters => parameters.Items,
        _ => [container],
    };

    /// <summary>An explicit registration of something found earlier in a field replaces the automatic one.</summary>
    private void ForgetAutoRegistered(object item)
    {
        lock (_registrationLock)
        {
            foreach (var name in _autoNames.ToList())
                if (ReferenceEquals(CurrentAuto(name), item))
                    RemoveAuto(name);
        }
    }

    private bool IsDirect(object item) =>
        _children.Any(c => ReferenceEquals(c.Module, item)) || _parameters.Any(p => ReferenceEquals(p.Tensor, item)) || _buffers.Any(b => ReferenceEquals(b.Tensor, item));

    /// <summary>Every module, parameter and buffer registered below this module.</summary>
    private HashSet<object> Subtree()
    {
        var set = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var (_, child) in _children)
            foreach (var (_, module) in child.NamedModules())
            {
                set.Add(module);
                foreach (var p in module._parameters) set.Add(p.Tensor);
                foreach (var b in module._buffers) set.Add(b.Tensor);
            }
        return set;
    }

    /// <summary>
    /// Throws when a field anywhere in this tree (a dictionary, a list of something else) holds
    /// trainable tensors or modules with trainable parameters that are registered nowhere in the tree.
    /// </summary>
    private void ThrowOnUnregisteredTrainables()
    {
        var modules = NamedModules().ToList();
        if (!modules.Any(m => ModuleFieldCatalog.For(m.Module.GetType()).Any(f => !f.Registers)))
            return;
        var registered = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var (_, module) in modules)
        {
            registered.Add(module);
            foreach (var p in module._parameters) registered.Add(p.Tensor);
        }
        foreach (var (path, module) in modules)
            foreach (var field in ModuleFieldCatalog.For(module.GetType()).Where(f => !f.Registers))
            {
                var loose = Flatten(field.Info.GetValue(module)).Where(item => !registered.Contains(item)).SelectMany(Trainables).Distinct(ReferenceEqualityComparer.Instance).Count();
                if (loose > 0)
                    throw new InvalidOperationException($"{module.GetType().Name} ('{(path.Length == 0 ? "the root module" : path)}'): field '{field.Info.Name}' holds {loose} trainable tensor(s) that are not registered, so an optimiser would never update them; register them (RegisterParameter, RegisterModule, or a ModuleList/ModuleDict), or mark the field [Unregistered] if another module owns them");
            }
    }

    private static IEnumerable<object> Flatten(object? value)
    {
        if (value is null) yield break;
        if (value is Module or Tensor) { yield return value; yield break; }
        if (value is IDictionary dictionary) { foreach (var item in dictionary.Values) foreach (var inner in Flatten(item)) yield return inner; yield break; }
        if (value is IEnumerable sequence and not string) foreach (var item in sequence) foreach (var inner in Flatten(item)) yield return inner;
    }

    private static IEnumerable<Tensor> Trainables(object item) => item switch
    {
        Tensor { IsLeaf: true, RequiresGrad: true } t => [t],
        Module m => m.NamedParameters().Select(p => p.Parameter).Where(p => p.RequiresGrad),
        _ => [],
    };
}

internal enum FieldKind { Module, Tensor, ModuleList, TensorList, Other }

/// <summary>A field that can hold modules or tensors; <see cref="Registers"/> is false for those only checked (dictionaries...).</summary>
internal sealed record ModuleField(FieldInfo Info, string Name, FieldKind Kind)
{
    public bool Registers => Kind != FieldKind.Other;
}

/// <summary>Per type, the fields that can hold modules or tensors: base class first, each class in declaration order.</summary>
internal static class ModuleFieldCatalog
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyList<ModuleField>> Cache = new();

    public static IReadOnlyList<ModuleField> For(Type type) => Cache.GetOrAdd(type, Build);

    private static IReadOnlyList<ModuleField> Build(Type type)
    {
        var chain = new List<Type>();
        for (var t = type; t is not null && t != typeof(Module) && t != typeof(object); t = t.BaseType) chain.Add(t);
        chain.Reverse();
        var fields = new List<ModuleField>();
        foreach (var t in chain)
            foreach (var info in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly).OrderBy(f => f.MetadataToken))
            {
                var property = BackingProperty(t, info);
                if (info.IsDefined(typeof(UnregisteredAttribute)) || (property?.IsDefined(typeof(UnregisteredAttribute)) ?? false))
                    continue;
                var kind = Classify(info.FieldType);
                if (kind is { } k)
                    fields.Add(new ModuleField(info, FieldName(property?.Name ?? info.Name), k));
            }
        return fields;
    }

    private static FieldKind? Classify(Type type)
    {
        if (typeof(Module).IsAssignableFrom(type)) return FieldKind.Module;
        if (type == typeof(Tensor)) return FieldKind.Tensor;
        if (type == typeof(string) || typeof(Delegate).IsAssignableFrom(type)) return null;
        var element = ElementType(type);
        if (element is not null && !typeof(IDictionary).IsAssignableFrom(type))
        {
            if (typeof(Module).IsAssignableFrom(element)) return FieldKind.ModuleList;
            if (element == typeof(Tensor)) return FieldKind.TensorList;
        }
        return Mentions(type, 0) ? FieldKind.Other : null;
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        var enumerable = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>) ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }

    /// <summary>Whether a type's generic arguments (dictionaries, tuples, nested lists) can hold a module or tensor.</summary>
    private static bool Mentions(Type type, int depth)
    {
        if (depth > 3) return false;
        if (typeof(Module).IsAssignableFrom(type) || type == typeof(Tensor)) return true;
        if (type.IsArray) return Mentions(type.GetElementType()!, depth + 1);
        return type.IsGenericType && type.GetGenericArguments().Any(a => Mentions(a, depth + 1));
    }

    private static PropertyInfo? BackingProperty(Type type, FieldInfo field)
    {
        if (!field.Name.StartsWith('<')) return null;
        var name = field.Name[1..field.Name.IndexOf('>', StringComparison.Ordinal)];
        return type.GetProperty(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly);
    }

    /// <summary>"_fc1", "m_fc1" and the property "Fc1" all register as "fc1", PyTorch's spelling.</summary>
    internal static string FieldName(string name)
    {
        if (name.StartsWith("m_", StringComparison.Ordinal)) name = name[2..];
        name = name.TrimStart('_');
        return name.Length == 0 ? "_" : char.ToLowerInvariant(name[0]) + name[1..];
    }
}
