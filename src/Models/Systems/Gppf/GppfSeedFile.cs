using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Models.Experiments;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Gppf;

/// <summary>
/// One seed's measured arms as saved in the run folder (<c>seed-N.json</c>), with the settings key,
/// the commit that trained it and the machine's load while it trained, so <c>--reuse-seeds</c> can
/// rebuild the page (a new discussion, say) without training again and say where each seed came from.
/// </summary>
public sealed record GppfSeedFile(string SettingsKey, string Commit, string Date, double Minutes, string Load, GppfSeedResult Result)
{
    // Test metrics of a diverged or empty split are NaN; JSON has no NaN literal of its own.
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>The settings a seed's numbers depend on, as one JSON string (a reused seed must match it exactly).</summary>
    public static string Key(GppfScale scale) => JsonSerializer.Serialize(new
    {
        Scale = scale,
        GppfExperiment.Tasks,
        GppfExperiment.Downstream,
        GppfArms.Optimizer.Lr,
        GppfArms.Optimizer.WeightDecay,
        GppfArms.RouteScale,
    });

    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, s_json));

    /// <summary>The saved seed at <paramref name="path"/> when it exists, parses and was trained with the settings <paramref name="key"/>; otherwise null.</summary>
    public static GppfSeedFile? TryRead(string path, string key)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var file = JsonSerializer.Deserialize<GppfSeedFile>(File.ReadAllText(path), s_json);
            return file is not null && file.SettingsKey == key && file.Result is not null ? file : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
