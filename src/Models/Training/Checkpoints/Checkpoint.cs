using System.Globalization;
using System.Text.Json;
using Tessera.Autograd;
using Tessera.Engine.Serialization;

namespace Tessera.Models.Training;

/// <summary>
/// A training checkpoint as one safetensors file, readable by PyTorch users with
/// <c>safetensors.torch.load_file</c>: tensors "model.{state-dict key}" and
/// "optimizer.{parameter index}.{slot}" (PyTorch's optimizer numbering); the "__metadata__"
/// strings hold the format tag, trainer step, optimiser and scheduler step counts, every random
/// stream's (seed, offset) as JSON, and the recipe as JSON. Written atomically (temp + rename).
/// </summary>
public static class Checkpoint
{
    public const string Format = "tessera-checkpoint-v1";

    /// <summary>
    /// Writes the trainer's full state to <paramref name="path"/>; <paramref name="trainSeconds"/>
    /// (training time so far, over every resume) goes into the metadata for metrics.json's "seconds".
    /// </summary>
    public static void Save(string path, MultiTaskTrainer trainer, string recipeJson, double trainSeconds = 0)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var tensors = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        foreach (var (key, tensor) in trainer.Model.StateDict()) tensors["model." + key] = tensor.ToEntry();
        foreach (var (key, tensor) in trainer.Optimizer.StateDict()) tensors["optimizer." + key] = tensor.ToEntry();
        var rngs = trainer.Generators.ToDictionary(g => g.Key, g => new[] { g.Value.Seed.ToString(CultureInfo.InvariantCulture), g.Value.Offset.ToString(CultureInfo.InvariantCulture) });
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = Format,
            ["step"] = trainer.Step.ToString(CultureInfo.InvariantCulture),
            ["optimizer_step"] = trainer.Optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            ["scheduler_step"] = (trainer.Scheduler?.StepCount ?? 0).ToString(CultureInfo.InvariantCulture),
            ["rng"] = JsonSerializer.Serialize(rngs),
            ["recipe"] = recipeJson ?? "",
            ["train_seconds"] = Math.Round(Math.Max(trainSeconds, 0), 3).ToString("R", CultureInfo.InvariantCulture),
        };
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        SafeTensors.Write(path, tensors, metadata);
    }

    /// <summary>Whether <paramref name="path"/> is an existing Tessera training checkpoint (its metadata names the format).</summary>
    public static bool IsCheckpoint(string path) =>
        File.Exists(path) && SafeTensors.Read(path).Metadata.TryGetValue("format", out var format) && format == Format;

    /// <summary>Training seconds recorded in a checkpoint (0 for checkpoints written before they were recorded).</summary>
    public static double ReadTrainSeconds(string path) =>
        Open(path).Metadata.TryGetValue("train_seconds", out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0
            ? seconds : 0;

    /// <summary>The recipe JSON stored in a checkpoint (to rebuild its model before <see cref="Restore"/>).</summary>
    public static string ReadRecipe(string path) => Open(path).Metadata["recipe"];

    /// <summary>
    /// Restores model, optimiser, scheduler, random streams and step from <paramref name="path"/>.
    /// Everything is checked before anything is changed: a missing or corrupt file, a key the
    /// model lacks or a shape mismatch leaves the trainer untouched and throws a clear error.
    /// </summary>
    public static void Restore(string path, MultiTaskTrainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var (tensors, metadata) = Open(path);
        var model = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var optimizer = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, entry) in tensors)
        {
            if (key.StartsWith("model.", StringComparison.Ordinal)) model[key[6..]] = Tensor.FromEntry(entry);
            else if (key.StartsWith("optimizer.", StringComparison.Ordinal)) optimizer[key[10..]] = Tensor.FromEntry(entry);
            else throw new InvalidDataException($"checkpoint '{path}': unexpected tensor '{key}' (expected names starting with 'model.' or 'optimizer.')");
        }
        var own = trainer.Model.StateDict();
        var missing = own.Keys.Where(k => !model.ContainsKey(k)).ToList();
        var unexpected = model.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new InvalidDataException($"checkpoint '{path}' does not match the model: missing [{string.Join(", ", missing.Take(8))}], unexpected [{string.Join(", ", unexpected.Take(8))}]; was it written by a different recipe?");
        foreach (var (key, target) in own)
            if (!model[key].Shape.SequenceEqual(target.Shape))
                throw new InvalidDataException($"checkpoint '{path}': '{key}' has shape [{string.Join(", ", model[key].Shape.ToArray())}] but the model expects [{string.Join(", ", target.Shape.ToArray())}]; was it written by a different recipe?");
        foreach (var (key, entry) in tensors)
            if (NonFinite(entry) is string what)
                throw new InvalidDataException($"checkpoint '{path}': tensor '{key}' holds {what}; the run that wrote it had already diverged (or the file was damaged before digests were written), so resuming would continue from broken weights. Resume from an earlier copy or start again with --overwrite (a lower learning rate or clip_norm keeps a run finite)");
        var rngs = ParseRngs(path, metadata);
        foreach (var name in trainer.Generators.Keys)
            if (!rngs.ContainsKey(name))
                throw new InvalidDataException($"checkpoint '{path}' lacks random stream '{name}' (it holds {string.Join(", ", rngs.Keys)}); was it written with a different device count?");
        long step = Number(path, metadata, "step"), optimizerStep = Number(path, metadata, "optimizer_step"), schedulerStep = Number(path, metadata, "scheduler_step");

        trainer.Model.LoadStateDict(model);
        trainer.Optimizer.LoadStateDict(optimizer, optimizerStep);
        trainer.Scheduler?.Restore(schedulerStep);
        foreach (var (name, generator) in trainer.Generators) generator.SetState(rngs[name].Seed, rngs[name].Offset);
        trainer.RestoreStep(step);
    }

    /// <summary>"NaN values" / "infinite values" for a float32 tensor that holds them, otherwise null.</summary>
    internal static string? NonFinite(SafeTensorEntry entry)
    {
        if (entry.DType != Engine.DType.Float32) return null;
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(entry.Data);
        foreach (float v in values)
        {
            if (float.IsNaN(v)) return "NaN values";
            if (float.IsInfinity(v)) return "infinite values";
        }
        return null;
    }

    /// <summary>The trainer step a checkpoint was written at.</summary>
    public static long ReadStep(string path) => Number(path, Open(path).Metadata, "step");

    private static (Dictionary<string, SafeTensorEntry> Tensors, Dictionary<string, string> Metadata) Open(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"checkpoint: no file at '{path}'; train first, or pass the path of an existing checkpoint.safetensors", path);
        var file = SafeTensors.Read(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new InvalidDataException($"checkpoint '{path}': expected format '{Format}' in the safetensors metadata, found '{format ?? "none"}'; it is not a Tessera training checkpoint");
        if (!file.Metadata.ContainsKey("recipe"))
            throw new InvalidDataException($"checkpoint '{path}': the metadata has no recipe; the file is incomplete");
        return file;
    }

    private static Dictionary<string, (ulong Seed, ulong Offset)> ParseRngs(string path, Dictionary<string, string> metadata)
    {
        try
        {
            var raw = JsonSerializer.Deserialize<Dictionary<string, string[]>>(metadata.GetValueOrDefault("rng") ?? "") ?? [];
            return raw.ToDictionary(kv => kv.Key, kv => (ulong.Parse(kv.Value[0], CultureInfo.InvariantCulture), ulong.Parse(kv.Value[1], CultureInfo.InvariantCulture)), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"checkpoint '{path}': the random-stream metadata is unreadable ({e.Message})", e);
        }
    }

    private static long Number(string path, Dictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new InvalidDataException($"checkpoint '{path}': metadata '{key}' expected a non-negative integer, found '{text ?? "nothing"}'");
}
