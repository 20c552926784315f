using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Training;

/// <summary>
/// The virtual device a forward runs on. The trainer sets <see cref="Current"/> on each device's
/// thread for the duration of that device's forward and backward, so batch-norm layers can find
/// their SyncBN reducer without every forward signature carrying it (the ambient design keeps
/// backbones written as plain <c>Forward(input)</c> layers usable in SIMT).
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

    /// <summary>Makes this device current on the calling thread until disposed.</summary>
    public IDisposable Enter()
    {
        var previous = _current;
        _current = this;
        return new Restore(previous);
    }

    private sealed class Restore(VirtualDevice? previous) : IDisposable
    {
        public void Dispose() => _current = previous;
    }
}
