using Tessera.Autograd;

namespace Tessera.Models.Optim;

/// <summary>
/// Layer-wise learning-rate decay (BEiT/EVA fine-tuning): parameters of layer i of L get
/// lr · decay^(L + 1 - i), so the head (layer L + 1) trains at the full rate and early layers
/// barely move. Returns one <see cref="ParameterGroup"/> per layer that has parameters.
/// </summary>
public static class LayerDecay
{
    /// <param name="named">Parameters by name (e.g. <c>model.NamedParameters()</c>).</param>
    /// <param name="layerOf">Maps a parameter name to its layer in [0, layerCount + 1].</param>
    public static IReadOnlyList<ParameterGroup> Groups(IEnumerable<(string Name, Tensor Parameter)> named, Func<string, int> layerOf,
        int layerCount, float learningRate, float decay, float? weightDecay = null)
    {
        ArgumentNullException.ThrowIfNull(named);
        ArgumentNullException.ThrowIfNull(layerOf);
        if (!(decay > 0f && decay <= 1f))
            throw new ArgumentOutOfRangeException(nameof(decay), decay, $"LayerDecay: 'decay' expected in (0, 1], found {decay}");
        var byLayer = new SortedDictionary<int, List<Tensor>>();
        foreach (var (name, parameter) in named)
        {
            int layer = layerOf(name);
            if (layer < 0 || layer > layerCount + 1)
                throw new ArgumentOutOfRangeException(nameof(layerOf), layer, $"LayerDecay: parameter '{name}' mapped to layer {layer}, expected [0, {layerCount + 1}]");
            if (!byLayer.TryGetValue(layer, out var list))
                byLayer[layer] = list = new List<Tensor>();
            list.Add(parameter);
        }
        return byLayer.Select(kv => new ParameterGroup(kv.Value, learningRate * MathF.Pow(decay, layerCount + 1 - kv.Key), weightDecay)).ToList();
    }

    /// <summary>
    /// The layer of a ViT parameter (timm/our <c>VisionTransformer</c> names): embeddings 0,
    /// <c>blocks.i.*</c> i + 1, everything after the blocks (final norm, head) depth + 1.
    /// </summary>
    public static int VitLayer(string name, int depth)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.StartsWith("patch_embed", StringComparison.Ordinal) || name.StartsWith("cls_token", StringComparison.Ordinal) || name.StartsWith("pos_embed", StringComparison.Ordinal))
            return 0;
        if (name.StartsWith("blocks.", StringComparison.Ordinal))
        {
            int end = name.IndexOf('.', 7);
            if (end > 7 && int.TryParse(name.AsSpan(7, end - 7), out int block))
                return block + 1;
        }
        return depth + 1;
    }
}
