using Tessera.Engine.Random;
using Tessera.Models.Recipes;

namespace Tessera.Models.Systems.Gppf;

/// <summary>How a recipe's model spec becomes a <see cref="GppfBackbone"/> (model type "gppf-resnet").</summary>
public static class GppfRecipe
{
    /// <summary>
    /// A GPPF backbone from <c>model {width, depth, units, routing, local_bn, route_scale}</c>: N = units per lego
    /// layer, routing "soft" or "hard", local_bn for the local-BN ablation, route_scale the controllers' logit scale.
    /// </summary>
    public static GppfBackbone CreateBackbone(ModelSpec spec, int inChannels, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var mode = spec.Routing switch
        {
            "soft" => RoutingMode.Soft,
            "hard" => RoutingMode.Hard,
            _ => throw new InvalidDataException($"recipe: 'model.routing' expected \"soft\" or \"hard\", found \"{spec.Routing}\""),
        };
        if (spec.Units < 1)
            throw new InvalidDataException($"recipe: 'model.units' expected at least 1 unit per lego layer, found {spec.Units}");
        if (!(spec.RouteScale > 0) || !float.IsFinite(spec.RouteScale))
            throw new InvalidDataException($"recipe: 'model.route_scale' expected a finite value > 0, found {spec.RouteScale}");
        return new GppfBackbone(inChannels, spec.Width, spec.Depth, spec.Units, mode, generator, spec.RouteScale) { LocalBatchNorm = spec.LocalBn };
    }
}
