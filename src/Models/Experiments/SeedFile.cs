using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Models.Training;

namespace Tessera.Models.Experiments;

/// <summary>
/// One seed's measured results as an experiment saves them in its run folder (<c>seed-N.json</c>):
/// the settings key, the commit that trained it, when, how long, the machine's load (where
/// recorded) and the system's result record, so <c>--reuse-seeds</c> can rebuild a page without
/// training again and say where each seed came from. Shared by every experiment that saves seeds.
/// </summary>
public sealed record SeedFile<TResult>(string SettingsKey, string Commit, string Date, double Minutes, string? Load, TResult Result)
    where TResult : class
{
    // Test metrics of a diverged or empty split are NaN; JSON has no NaN literal of its own.
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>The settings a seed's numbers depend on, as one JSON string: a reused seed must match it exactly.</summary>
    public static string Key(object settings) => JsonSerializer.Serialize(settings);

    /// <summary>Writes the file whole (temp file, then rename).</summary>
    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, s_json));

    /// <summary>The saved seed at <paramref name="path"/> when it exists, parses and was trained with the settings <paramref name="key"/>; otherwise null.</summary>
    public static SeedFile<TResult>? TryRead(string path, string key)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var file = JsonSerializer.Deserialize<SeedFile<TResult>>(File.ReadAllText(path), s_json);
            return file is not null && file.SettingsKey == key && file.Result is not null ? file : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
