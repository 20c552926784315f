namespace Tessera.Models.Systems.Gppf;

/// <summary>How a lego layer mixes its units while training (evaluation always runs the argmax unit alone).</summary>
public enum RoutingMode
{
    /// <summary>Eq. 1 of GPPF: all N units run, output = Σ_k u_k M_k(x) with u a Gumbel-softmax sample (the default).</summary>
    Soft,

    /// <summary>
    /// Straight-through: u_hard - stopgrad(u) + u. Only the sampled unit k runs; the output is
    /// u_hard[k] · M_k(x) (value exactly M_k(x)), whose gradient reaches every logit through the
    /// soft sample's Jacobian. Our choice: the other units' outputs (which the full estimator would
    /// multiply by zero) are not computed, so units a task did not pick get no gradient from it.
    /// </summary>
    Hard,
}

/// <summary>
/// GPPF's Gumbel temperature: linear from <see cref="Start"/> (5.0) to <see cref="End"/> (0.01)
/// over the first <see cref="DecayFraction"/> (90%) of <see cref="TotalSteps"/>, then constant.
/// </summary>
public sealed record TemperatureSchedule(long TotalSteps, double Start = 5.0, double End = 0.01, double DecayFraction = 0.9)
{
    /// <summary>Steps over which tau decays: round(DecayFraction · TotalSteps), at least 1.</summary>
    public long DecaySteps => Math.Max(1, (long)Math.Round(DecayFraction * TotalSteps));

    /// <summary>tau at <paramref name="step"/> (0-based): Start at step 0, End from step <see cref="DecaySteps"/> on.</summary>
    public double At(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step >= DecaySteps) return End;
        return Start + (End - Start) * step / DecaySteps;
    }
}
