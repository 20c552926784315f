using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Models.Recipes;

/// <summary>
/// Reads recipes: JSON → overrides (<c>key=value</c>, dotted paths) → a checked <see cref="Recipe"/>.
/// Errors name the file, the line (malformed JSON) or the field, and what was expected.
/// </summary>
public static class RecipeLoader
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    };

    /// <summary>
    /// Finds a recipe by path or by name: <paramref name="nameOrPath"/> itself if it is a file,
    /// else <c>recipes/NAME.json</c> under the current folder or any folder above the program.
    /// </summary>
    public static string Locate(string nameOrPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        if (File.Exists(nameOrPath)) return Path.GetFullPath(nameOrPath);
        string file = nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? nameOrPath : nameOrPath + ".json";
        foreach (var folder in RecipeFolders())
        {
            string candidate = Path.Combine(folder, file);
            if (File.Exists(candidate)) return candidate;
        }
        var known = RecipeFolders().SelectMany(f => Directory.GetFiles(f, "*.json")).Select(Path.GetFileNameWithoutExtension).Distinct().Order(StringComparer.Ordinal);
        throw new FileNotFoundException($"train: no recipe '{nameOrPath}' (looked for a file of that name and for recipes/{file}); available recipes: {string.Join(", ", known)}");
    }

    /// <summary>Folders named "recipes" in the current folder and above the program's own folder.</summary>
    public static IEnumerable<string> RecipeFolders()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "recipes");
                if (Directory.Exists(candidate) && seen.Add(candidate)) yield return candidate;
            }
        }
    }

    /// <summary>Loads <paramref name="path"/> and applies <paramref name="overrides"/> ("key=value").</summary>
    public static Recipe Load(string path, IEnumerable<string>? overrides = null)
    {
        string text = File.Exists(path) ? File.ReadAllText(path) : throw new FileNotFoundException($"recipe: no file at '{path}'", path);
        return Parse(text, Path.GetFileName(path), overrides);
    }

    /// <summary>Parses recipe JSON (<paramref name="origin"/> names it in errors) and applies overrides.</summary>
    public static Recipe Parse(string json, string origin, IEnumerable<string>? overrides = null)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            // One line number, counted from 1 (.NET's message repeats it counted from 0).
            throw new InvalidDataException($"recipe '{origin}' is not valid JSON at line {(e.LineNumber ?? 0) + 1}, position {(e.BytePositionInLine ?? 0) + 1}: {FirstSentence(e.Message)}", e);
        }
        if (node is not JsonObject)
            throw new InvalidDataException($"recipe '{origin}': expected a JSON object at the top level, found {node?.GetValueKind().ToString() ?? "null"}");
        RecipeFields.CheckKnown(node, typeof(Recipe), "", origin);
        var recipe = Deserialize(node, origin);
        // Round-trip through the full recipe (defaults filled in) so overrides can set fields the file leaves out.
        var full = JsonSerializer.SerializeToNode(recipe, Options)!;
        foreach (var item in overrides ?? [])
            ApplyOverride(full, item);
        recipe = Deserialize(full, origin);
        Validate(recipe, origin);
        return recipe;
    }

    /// <summary>The recipe as indented JSON (stored in checkpoints and reports).</summary>
    public static string ToJson(Recipe recipe) => JsonSerializer.Serialize(recipe, Options);

    private static Recipe Deserialize(JsonNode node, string origin)
    {
        try
        {
            return node.Deserialize<Recipe>(Options) ?? throw new InvalidDataException($"recipe '{origin}' is empty");
        }
        catch (JsonException e)
        {
            string field = RecipeFields.DottedPath(e.Path ?? "");
            string expected = RecipeFields.TypeAt(typeof(Recipe), e.Path ?? "") is { } type ? $"expected {RecipeFields.Describe(type)}" : "has a value of the wrong kind";
            throw new InvalidDataException($"recipe '{origin}': field '{field}' {expected}; fix the file or override it (tessera train RECIPE {field}=VALUE)", e);
        }
    }

    private static void ApplyOverride(JsonNode root, string item)
    {
        int equals = item.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 && item.StartsWith('-'))
            throw new ArgumentException($"train: unknown option '{item}'; expected one of the options 'tessera train --help' lists, or a recipe override key=value");
        if (equals <= 0)
            throw new ArgumentException($"train: override '{item}' expected the form key=value (for example optimizer.lr=0.1)");
        string key = item[..equals], text = item[(equals + 1)..];
        var parts = key.Split('.');
        JsonNode current = root;
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i];
            bool last = i == parts.Length - 1;
            switch (current)
            {
                case JsonObject obj:
                    if (!obj.ContainsKey(part))
                        throw new ArgumentException($"train: unknown recipe key '{key}': '{part}' is not a field{Where(parts, i)}; fields there: {string.Join(", ", obj.Select(p => p.Key))}");
                    if (last) obj[part] = ParseValue(text);
                    else current = obj[part] ?? throw new ArgumentException($"train: recipe key '{key}': '{part}' is null and has no fields");
                    break;
                case JsonArray array:
                    if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= array.Count)
                        throw new ArgumentException($"train: recipe key '{key}': '{part}' expected an index below {array.Count}{Where(parts, i)}");
                    if (last) array[index] = ParseValue(text);
                    else current = array[index]!;
                    break;
                default:
                    throw new ArgumentException($"train: unknown recipe key '{key}': '{string.Join('.', parts[..i])}' is a value, not an object");
            }
        }
    }

    private static string Where(string[] parts, int i) => i == 0 ? "" : $" of '{string.Join('.', parts[..i])}'";

    /// <summary>JSON if the text is JSON (numbers, true/false, objects), otherwise a string.</summary>
    private static JsonNode? ParseValue(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    private static void Validate(Recipe recipe, string origin)
    {
        void Check(bool ok, string message)
        {
            if (!ok) throw new InvalidDataException($"recipe '{origin}': {message}");
        }
        Check(recipe.Steps >= 1, $"'steps' expected at least 1, found {recipe.Steps}");
        Check(recipe.Batch >= 1, $"'batch' expected at least 1, found {recipe.Batch}");
        Check(recipe.Size >= 4, $"'size' expected at least 4 pixels, found {recipe.Size}");
        Check(recipe.Devices >= 1, $"'devices' expected at least 1, found {recipe.Devices}");
        Check(recipe.CheckpointEvery >= 0, $"'checkpoint_every' expected >= 0, found {recipe.CheckpointEvery}");
        Check(recipe.EvalBatches >= 0, $"'eval_batches' expected >= 0, found {recipe.EvalBatches}");
        Check(recipe.Nonfinite is "stop" or "skip", $"'nonfinite' expected \"stop\" or \"skip\", found \"{recipe.Nonfinite}\"");
        Check(recipe.Tasks.Count >= 1, "'tasks' expected at least one task, found none");
        for (int t = 0; t < recipe.Tasks.Count; t++)
        {
            var task = recipe.Tasks[t];
            Check(task.Name.Length > 0 && !task.Name.Contains('.', StringComparison.Ordinal) && !task.Name.Contains('/', StringComparison.Ordinal), $"'tasks.{t}.name' expected a non-empty name without '.' or '/', found \"{task.Name}\"");
            Check(task.Batch is null or >= 1, $"'tasks.{t}.batch' expected at least 1, found {task.Batch}");
            Check(task.Size is null or >= 4, $"'tasks.{t}.size' expected at least 4, found {task.Size}");
            Check(task.Weight >= 0 && double.IsFinite(task.Weight), $"'tasks.{t}.weight' expected a finite value >= 0, found {task.Weight}");
        }
    }

    private static string FirstSentence(string message)
    {
        foreach (var marker in new[] { " Path:", " LineNumber:" })
        {
            int cut = message.IndexOf(marker, StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
        }
        return message.TrimEnd();
    }
}
