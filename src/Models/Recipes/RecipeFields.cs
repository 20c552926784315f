using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Models.Recipes;

/// <summary>
/// Checks a recipe's JSON against the recipe classes before deserialising, so that errors name
/// the field, where it is and the valid fields in recipe words (snake_case), never a .NET type.
/// </summary>
internal static class RecipeFields
{
    /// <summary>Throws at the first field that the recipe type has no place for, listing the valid ones.</summary>
    public static void CheckKnown(JsonNode? node, Type type, string path, string origin)
    {
        switch (node)
        {
            case JsonObject obj when IsRecord(type):
                var fields = Fields(type);
                foreach (var (key, value) in obj)
                {
                    if (!fields.TryGetValue(key, out var property))
                    {
                        string where = path.Length == 0 ? "the recipe" : $"'{path}'";
                        string hint = Closest(key, fields.Keys) is { } near ? $" (did you mean '{near}'?)" : "";
                        throw new InvalidDataException($"recipe '{origin}': unknown field '{key}' in {where}{hint}; valid fields of {where}: {string.Join(", ", fields.Keys)}");
                    }
                    CheckKnown(value, property.PropertyType, Join(path, key), origin);
                }
                break;
            case JsonArray array when ElementType(type) is { } element:
                for (int i = 0; i < array.Count; i++)
                    CheckKnown(array[i], element, Join(path, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), origin);
                break;
        }
    }

    /// <summary>What a field of <paramref name="type"/> holds, in recipe words.</summary>
    public static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int) || type == typeof(long) || type == typeof(ulong) || type == typeof(uint)) return "a whole number";
        if (type == typeof(float) || type == typeof(double)) return "a number";
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(string)) return "a string in quotes";
        if (ElementType(type) is not null) return "a list [...]";
        return "an object {...}";
    }

    /// <summary>The type of the field at a JSON path such as "$.tasks[0].batch", or null.</summary>
    public static Type? TypeAt(Type root, string jsonPath)
    {
        var type = root;
        foreach (var part in jsonPath.TrimStart('$').Split(['.', '['], StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.EndsWith(']')) { type = ElementType(type); }
            else if (IsRecord(type) && Fields(type).TryGetValue(part, out var property)) { type = property.PropertyType; }
            else return null;
            if (type is null) return null;
        }
        return type;
    }

    /// <summary>Dotted recipe path ("tasks.0.batch") for a JSON path ("$.tasks[0].batch").</summary>
    public static string DottedPath(string jsonPath) => jsonPath.TrimStart('$', '.').Replace("[", ".", StringComparison.Ordinal).Replace("]", "", StringComparison.Ordinal);

    private static Dictionary<string, PropertyInfo> Fields(Type type) => type
        .GetProperties(BindingFlags.Instance | BindingFlags.Public)
        .Where(p => p.CanWrite)
        .ToDictionary(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), StringComparer.Ordinal);

    private static bool IsRecord(Type type) => type.IsClass && type != typeof(string) && ElementType(type) is null && type.Namespace?.StartsWith("Tessera", StringComparison.Ordinal) == true;

    private static Type? ElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0]
        : null;

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private static string? Closest(string key, IEnumerable<string> candidates) =>
        candidates.Select(c => (c, d: Distance(key, c))).Where(x => x.d <= Math.Max(1, key.Length / 3)).OrderBy(x => x.d).Select(x => x.c).FirstOrDefault();

    /// <summary>Edit distance counting a swap of neighbours as one edit ("stesp" is one edit from "steps").</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
