using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;

namespace Tessera.Models.Training;

/// <summary>
/// The virtual device a forward runs on. The trainer sets <see cref="Current"/> on each device's
/// thread for the duration of that device's forward and backward, and with it the thread's
/// <see cref="SyncBatchNormScope"/>, so batch-norm layers find their SyncBN reducer without every
/// forward signature carrying it (backbones stay plain <c>Forward(input)</c> layers).
/// </summary>
public sealed class VirtualDevice
{
    [ThreadStatic] private static VirtualDevice? _current;

    public VirtualDevice(int index, string task, IBatchStatisticsReducer reducer, Generator noise)
    {
        Index = index;
        Task = task;
        Reducer = reducer;
        Noise = noise;
    }

    /// <summary>The device running on this thread, or null outside the trainer (plain batch norm then).</summary>
    public static VirtualDevice? Current => _current;

    public int Index { get; }

    /// <summary>The task this device trains this step.</summary>
    public string Task { get; }

    /// <summary>Combines batch statistics over all devices of the step (cross-task SyncBN).</summary>
    public IBatchStatisticsReducer Reducer { get; }

    /// <summary>
    /// Only device 0 updates running statistics: the layers are shared, and every device sees the
    /// same synchronised statistics, so one update per step is what one big batch would give.
    /// </summary>
    public bool UpdatesRunningStatistics => Index == 0;

    /// <summary>This device's stream for dropout, drop path, Gumbel noise (one per device, so threads never share a stream).</summary>
    public Generator Noise { get; }

    /// <summary>
    /// Makes this device current on the calling thread until disposed, and opens the
    /// <see cref="SyncBatchNormScope"/> through which every <see cref="BatchNorm2d"/> of the shared
    /// model combines its statistics with the other devices.
    /// </summary>
    public IDisposable Enter()
    {
        var previous = _current;
        _current = this;
        return new Restore(previous, SyncBatchNormScope.Use(Reducer, UpdatesRunningStatistics));
    }

    private sealed class Restore(VirtualDevice? previous, IDisposable batchNorm) : IDisposable
    {
        public void Dispose()
        {
            batchNorm.Dispose();
            _current = previous;
        }
    }
}
