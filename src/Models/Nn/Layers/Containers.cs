using System.Collections;
using System.Globalization;

namespace Tessera.Models.Nn;

/// <summary>torch.nn.ModuleList: children registered as "0", "1", ... in order of addition.</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = new();

    public ModuleList(IEnumerable<T>? modules = null)
    {
        if (modules is null) return;
        foreach (var module in modules) Add(module);
    }

    public T this[int index] => _items[index];

    public int Count => _items.Count;

    public ModuleList<T> Add(T module)
    {
        _items.Add(RegisterModule(_items.Count.ToString(CultureInfo.InvariantCulture), module));
        return this;
    }

    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>torch.nn.ModuleDict: children registered under their keys, in order of addition.</summary>
public sealed class ModuleDict<T> : Module, IReadOnlyCollection<KeyValuePair<string, T>> where T : Module
{
    private readonly List<KeyValuePair<string, T>> _items = new();

    public T this[string key] => TryGet(key, out var module) ? module
        : throw new KeyNotFoundException($"ModuleDict: no module named '{key}'; have [{string.Join(", ", Keys)}]");

    public int Count => _items.Count;

    public IEnumerable<string> Keys => _items.Select(i => i.Key);

    public ModuleDict<T> Add(string key, T module)
    {
        _items.Add(new(key, RegisterModule(key, module)));
        return this;
    }

    public bool ContainsKey(string key) => _items.Any(i => i.Key == key);

    public bool TryGet(string key, out T module)
    {
        foreach (var item in _items)
        {
            if (item.Key != key) continue;
            module = item.Value;
            return true;
        }
        module = null!;
        return false;
    }

    public IEnumerator<KeyValuePair<string, T>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
