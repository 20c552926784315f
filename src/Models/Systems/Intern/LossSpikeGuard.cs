using Tessera.Autograd;
using Tessera.Models.Nn;

namespace Tessera.Models.Systems.Intern;

/// <summary>One loss-spike guard trigger: the step, its loss, the threshold and the step whose weights came back.</summary>
public sealed record SpikeEvent(long Step, double Loss, double Threshold, long RestoredStep);

/// <summary>
/// INTERN's loss-spike guard: a step whose loss is non-finite or above <c>ratio</c> x the running
/// mean of accepted losses (EMA, decay 0.9, armed after <c>rollback</c> accepted steps) is skipped
/// and the model's weights and buffers go back to what they were <c>rollback</c> (10) steps
/// earlier. Call <see cref="BeginStep"/> before each step's update and <see cref="Check"/> with its
/// loss before the backward pass. The optimiser's moments are kept (the paper restores weights
/// only; our reading). Snapshots live in a preallocated ring (no allocation per step).
/// </summary>
public sealed class LossSpikeGuard
{
    private readonly (string Name, Tensor Tensor)[] _state;
    private readonly Tensor[][] _ring;
    private readonly long[] _ringStep;
    private readonly int _rollback;
    private readonly double _ratio;
    private readonly List<SpikeEvent> _events = [];
    private int _count;
    private int _accepted;
    private double _mean;

    public LossSpikeGuard(Module model, double ratio, int rollback = 10)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(rollback, 1);
        if (!(ratio > 1)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, $"intern: 'intern.spike_ratio' expected > 1, found {ratio}");
        _ratio = ratio;
        _rollback = rollback;
        _state = model.StateDict().Select(kv => (kv.Key, kv.Value)).ToArray();
        _ring = new Tensor[rollback + 1][];
        _ringStep = new long[rollback + 1];
        using (GradMode.NoGrad())
            for (int i = 0; i < _ring.Length; i++) _ring[i] = _state.Select(s => s.Tensor.Detach().Clone()).ToArray();
    }

    /// <summary>Every trigger so far, in order.</summary>
    public IReadOnlyList<SpikeEvent> Events => _events;

    /// <summary>The loss above which the next step is a spike (infinite until armed).</summary>
    public double Threshold => _accepted >= _rollback ? _ratio * _mean : double.PositiveInfinity;

    /// <summary>Records the weights at the start of step <paramref name="step"/> (before its update).</summary>
    public void BeginStep(long step)
    {
        int slot = (int)(_count % _ring.Length);
        using (GradMode.NoGrad())
            for (int i = 0; i < _state.Length; i++) _ring[slot][i].CopyFrom(_state[i].Tensor);
        _ringStep[slot] = step;
        _count++;
    }

    /// <summary>
    /// True when the step may go on; false for a spike: the weights of <c>rollback</c> steps earlier
    /// (the oldest recorded, early in training) are restored and the event logged.
    /// </summary>
    public bool Check(long step, double loss, Action<string>? log = null)
    {
        double threshold = Threshold;
        if (double.IsFinite(loss) && loss <= threshold)
        {
            _mean = _accepted == 0 ? loss : 0.9 * _mean + 0.1 * loss;
            _accepted++;
            return true;
        }
        // The ring holds the last min(count, rollback + 1) starts; the oldest is rollback steps before this one.
        int held = (int)Math.Min(_count, _ring.Length);
        int oldest = (int)((_count - held) % _ring.Length);
        using (GradMode.NoGrad())
            for (int i = 0; i < _state.Length; i++) _state[i].Tensor.CopyFrom(_ring[oldest][i]);
        var spike = new SpikeEvent(step, loss, threshold, _ringStep[oldest]);
        _events.Add(spike);
        log?.Invoke(FormattableString.Invariant($"    loss spike at step {step}: {loss:G4} > {threshold:G4}; weights of step {spike.RestoredStep} restored"));
        // The restored weights are the only history now.
        if (oldest != 0)
            using (GradMode.NoGrad())
                for (int i = 0; i < _state.Length; i++) _ring[0][i].CopyFrom(_ring[oldest][i]);
        _ringStep[0] = spike.RestoredStep;
        _count = 1;
        return false;
    }
}
