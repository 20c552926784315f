using Tessera.Autograd;
using Tessera.Engine.Distributed;
using Tessera.Models.Training.Distributed;

namespace Tessera.Models.Training;

/// <summary>
/// SyncBN across the virtual devices of one SIMT step. Each device runs on its own thread (the
/// forward of device d cannot finish a batch-norm layer before every device has reached it, so
/// they must run concurrently); every combine is an all-reduce that waits for all devices still
/// running and sums their contributions in device order, so the result never depends on thread
/// timing. Unlike a plain rendezvous it fails fast: when a device throws (<see cref="Abort"/>)
/// or finishes while others wait (<see cref="Finish"/>: its task skipped a batch-norm layer the
/// others use), every waiting device gets a clear error at once instead of a timeout.
/// Across processes (<see cref="DeviceStatisticsGroup(DeviceDeal, ICommunicator)"/>) the last
/// local device to arrive all-reduces one slot per global device (its rank's slots filled, the
/// others -0.0, the additive identity), so every rank then sums the same per-device vectors in
/// the same device order: the same bits as one process running every device.
/// </summary>
public sealed class DeviceStatisticsGroup
{
    private readonly object _gate = new();
    private readonly double[]?[] _slots;
    private readonly bool[] _finished;
    private readonly DeviceDeal _deal;
    private readonly ICommunicator _communicator;
    private double[] _result = [];
    private long _generation;
    private int _arrived;
    private string? _failure;

    public DeviceStatisticsGroup(int deviceCount)
        : this(new DeviceDeal(0, deviceCount, deviceCount), SingleProcessCommunicator.Instance)
    {
    }

    /// <summary>The devices <paramref name="deal"/> gives this rank, synchronised with every other rank's through <paramref name="communicator"/>.</summary>
    public DeviceStatisticsGroup(DeviceDeal deal, ICommunicator communicator)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(deal.Count, 1);
        _deal = deal;
        _communicator = communicator ?? throw new ArgumentNullException(nameof(communicator));
        _slots = new double[]?[deal.Count];
        _finished = new bool[deal.Count];
    }

    /// <summary>Devices on this rank.</summary>
    public int DeviceCount => _slots.Length;

    /// <summary>The reducer global device <paramref name="index"/> (one of this rank's) passes to batch norm.</summary>
    public IBatchStatisticsReducer Reducer(int index)
    {
        if (!_deal.Owns(index))
            throw new ArgumentOutOfRangeException(nameof(index), index, $"SyncBN: expected a device of this rank ({_deal.First}..{_deal.End - 1}), found {index}");
        return new Member(this, index - _deal.First);
    }

    /// <summary>Global device <paramref name="index"/> (one of this rank's) will combine no more this step.</summary>
    public void Finish(int index)
    {
        lock (_gate)
        {
            _finished[index - _deal.First] = true;
            if (_arrived > 0)
                _failure ??= $"SyncBN: device {index} finished its step while {_arrived} device(s) waited in a batch-norm layer; every device must run the same batch-norm layers (heads must use plain batch norm)";
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Global device <paramref name="index"/> failed; wakes every waiting device with an error naming it.</summary>
    public void Abort(int index, Exception error)
    {
        lock (_gate)
        {
            _finished[index - _deal.First] = true;
            _failure ??= $"SyncBN: device {index} failed ({error.Message})";
            Monitor.PulseAll(_gate);
        }
    }

    private double[] AllReduce(int index, double[] values)
    {
        lock (_gate)
        {
            if (_failure is not null)
                throw new InvalidOperationException(_failure);
            _slots[index] = values;
            long generation = _generation;
            if (++_arrived == _slots.Length)
            {
                var total = new double[values.Length];
                for (int d = 0; d < _slots.Length; d++)
                {
                    if (_slots[d]!.Length != total.Length)
                    {
                        _failure = $"SyncBN: devices disagree on the channel count ({_slots[d]!.Length} vs {total.Length} values); every device must run the same batch-norm layers in the same order";
                        Monitor.PulseAll(_gate);
                        throw new InvalidOperationException(_failure);
                    }
                }
                foreach (var slot in GlobalSlots(values.Length))
                    for (int i = 0; i < total.Length; i++) total[i] += slot[i];
                Array.Clear(_slots);
                _result = total;
                _arrived = 0;
                _generation++;
                Monitor.PulseAll(_gate);
                return (double[])total.Clone();
            }
            if (_finished.Any(f => f))
                _failure ??= $"SyncBN: device {_deal.First + index} reached a batch-norm layer that device {_deal.First + Array.IndexOf(_finished, true)} skipped; every device must run the same batch-norm layers (heads must use plain batch norm)";
            while (_generation == generation && _failure is null)
                Monitor.Wait(_gate);
            if (_generation == generation)
            {
                Monitor.PulseAll(_gate);
                throw new InvalidOperationException(_failure);
            }
            return (double[])_result.Clone();
        }
    }

    /// <summary>Every global device's vector in device order: this rank's slots, plus the other ranks' through one Allreduce.</summary>
    private IEnumerable<double[]> GlobalSlots(int length)
    {
        if (_communicator.Size == 1) return _slots.Select(slot => slot!);
        var all = new double[(long)_deal.Total * length];
        all.AsSpan().Fill(-0.0);
        for (int d = 0; d < _slots.Length; d++)
            _slots[d]!.CopyTo(all, (long)(_deal.First + d) * length);
        _communicator.AllReduce(all.AsSpan());
        return Enumerable.Range(0, _deal.Total).Select(d => all[(d * length)..((d + 1) * length)]);
    }

    private sealed class Member(DeviceStatisticsGroup group, int index) : AllReduceStatisticsReducer
    {
        protected override double[] AllReduce(double[] values) => group.AllReduce(index, values);
    }
}
