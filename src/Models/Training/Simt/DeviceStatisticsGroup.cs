using Tessera.Autograd;

namespace Tessera.Models.Training;

/// <summary>
/// SyncBN across the virtual devices of one SIMT step. Each device runs on its own thread (the
/// forward of device d cannot finish a batch-norm layer before every device has reached it, so
/// they must run concurrently); every combine is an all-reduce that waits for all devices still
/// running and sums their contributions in device order, so the result never depends on thread
/// timing. Unlike a plain rendezvous it fails fast: when a device throws (<see cref="Abort"/>)
/// or finishes while others wait (<see cref="Finish"/>: its task skipped a batch-norm layer the
/// others use), every waiting device gets a clear error at once instead of a timeout.
/// </summary>
public sealed class DeviceStatisticsGroup
{
    private readonly object _gate = new();
    private readonly double[]?[] _slots;
    private readonly bool[] _finished;
    private double[] _result = [];
    private long _generation;
    private int _arrived;
    private string? _failure;

    public DeviceStatisticsGroup(int deviceCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(deviceCount, 1);
        _slots = new double[]?[deviceCount];
        _finished = new bool[deviceCount];
    }

    public int DeviceCount => _slots.Length;

    /// <summary>The reducer device <paramref name="index"/> passes to batch norm.</summary>
    public IBatchStatisticsReducer Reducer(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, DeviceCount);
        return new Member(this, index);
    }

    /// <summary>Device <paramref name="index"/> will combine no more this step.</summary>
    public void Finish(int index)
    {
        lock (_gate)
        {
            _finished[index] = true;
            if (_arrived > 0)
                _failure ??= $"SyncBN: device {index} finished its step while {_arrived} device(s) waited in a batch-norm layer; every device must run the same batch-norm layers (heads must use plain batch norm)";
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Device <paramref name="index"/> failed; wakes every waiting device with an error naming it.</summary>
    public void Abort(int index, Exception error)
    {
        lock (_gate)
        {
            _finished[index] = true;
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
                    var slot = _slots[d]!;
                    if (slot.Length != total.Length)
                    {
                        _failure = $"SyncBN: devices disagree on the channel count ({slot.Length} vs {total.Length} values); every device must run the same batch-norm layers in the same order";
                        Monitor.PulseAll(_gate);
                        throw new InvalidOperationException(_failure);
                    }
                    for (int i = 0; i < total.Length; i++) total[i] += slot[i];
                    _slots[d] = null;
                }
                _result = total;
                _arrived = 0;
                _generation++;
                Monitor.PulseAll(_gate);
                return (double[])total.Clone();
            }
            if (_finished.Any(f => f))
                _failure ??= $"SyncBN: device {index} reached a batch-norm layer that device {Array.IndexOf(_finished, true)} skipped; every device must run the same batch-norm layers (heads must use plain batch norm)";
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

    private sealed class Member(DeviceStatisticsGroup group, int index) : AllReduceStatisticsReducer
    {
        protected override double[] AllReduce(double[] values) => group.AllReduce(index, values);
    }
}
