using Tessera.Autograd;
using Tessera.Engine.Serialization;

namespace Tessera.Models.Nn;

public abstract partial class Module
{
    /// <summary>
    /// Writes this module's state dict (parameters and buffers) to a safetensors file, atomically
    /// and with per-tensor digests; the keys are those of <see cref="StateDict"/>, as
    /// <c>safetensors.torch.save_file(model.state_dict())</c> would write them.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        SafeTensors.Write(path, StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToEntry(), StringComparer.Ordinal), SaveMetadata());
    }

    /// <summary>Metadata that <see cref="Save"/> writes beside the tensors (a model's config, so a static loader can rebuild it); none by default.</summary>
    protected virtual IReadOnlyDictionary<string, string>? SaveMetadata() => null;

    /// <summary>
    /// Loads a file written by <see cref="Save"/> (or any safetensors state dict) into this module
    /// in place; <paramref name="strict"/> as in <see cref="LoadStateDict"/>.
    /// </summary>
    public (IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected) Load(string path, bool strict = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{GetType().Name}.Load: no file at '{path}'; expected a safetensors file written by Save", path);
        var (tensors, _) = SafeTensors.Read(path);
        var state = tensors.ToDictionary(kv => kv.Key, kv => Tensor.FromEntry(kv.Value), StringComparer.Ordinal);
        try
        {
            return LoadStateDict(state, strict);
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }
}
