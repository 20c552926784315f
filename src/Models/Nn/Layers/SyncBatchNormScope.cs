using Tessera.Autograd;

namespace Tessera.Models.Nn;

/// <summary>
/// SyncBN for virtual devices that share one model instance (SIMT): inside
/// <c>using (SyncBatchNormScope.Use(group.Replica(rank), updateRunningStatistics: rank == 0))</c>
/// every <see cref="BatchNorm2d"/> without its own <see cref="BatchNorm2d.Reducer"/> combines
/// its batch statistics through that reducer. The scope is per thread — each virtual device runs
/// its forward and backward on its own thread — and the backward keeps the reducer its forward
/// used. Because every replica sees the same combined statistics, only one of them should update
/// the shared running statistics (the others pass updateRunningStatistics: false); otherwise the
/// momentum would be applied once per replica.
/// </summary>
public static class SyncBatchNormScope
{
    [ThreadStatic] private static IBatchStatisticsReducer? _reducer;
    [ThreadStatic] private static bool _skipRunningStatistics;

    /// <summary>The reducer of this thread's innermost scope (null outside any).</summary>
    public static IBatchStatisticsReducer? CurrentReducer => _reducer;

    /// <summary>False inside a scope opened with updateRunningStatistics: false.</summary>
    public static bool UpdatesRunningStatistics => !_skipRunningStatistics;

    /// <summary>Opens a scope on this thread; dispose it (innermost first) to restore the previous one.</summary>
    public static IDisposable Use(IBatchStatisticsReducer reducer, bool updateRunningStatistics = true)
    {
        ArgumentNullException.ThrowIfNull(reducer);
        var restore = new Restore(_reducer, _skipRunningStatistics);
        _reducer = reducer;
        _skipRunningStatistics = !updateRunningStatistics;
        return restore;
    }

    private sealed class Restore(IBatchStatisticsReducer? reducer, bool skip) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _reducer = reducer;
            _skipRunningStatistics = skip;
        }
    }
}
