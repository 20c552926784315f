using Tessera.Autograd;
using Tessera.Engine.Serialization;
using Tessera.Models.Nn;

namespace Tessera.Models.Training;

/// <summary>
/// A model's state dict alone as safetensors (keys exactly as <see cref="Module.StateDict"/>, as
/// torch's <c>save_file(model.state_dict())</c> would write them), atomically.
/// </summary>
public static class WeightsFile
{
    public static void Save(string path, Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.Save(path);
    }

    /// <summary>Loads weights into <paramref name="model"/> (strict: keys and shapes must match).</summary>
    public static void Load(string path, Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (tensors, _) = SafeTensors.Read(path);
        model.LoadStateDict(tensors.ToDictionary(kv => kv.Key, kv => Tensor.FromEntry(kv.Value), StringComparer.Ordinal));
    }
}
