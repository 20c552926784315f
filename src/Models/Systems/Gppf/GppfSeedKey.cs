using Tessera.Models.Experiments;

namespace Tessera.Models.Systems.Gppf;

/// <summary>The settings key of a GPPF seed file (<see cref="SeedFile{TResult}"/>): what its numbers depend on.</summary>
public static class GppfSeedKey
{
    public static string For(GppfScale scale) => SeedFile<GppfSeedResult>.Key(new
    {
        Scale = scale,
        GppfExperiment.Tasks,
        GppfExperiment.Downstream,
        GppfArms.Optimizer.Lr,
        GppfArms.Optimizer.WeightDecay,
        GppfArms.RouteScale,
    });
}
