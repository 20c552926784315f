using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Tessera.Models.Data.Loading;

/// <summary>
/// Prepares batches on a background thread while the consumer trains on the current one. Batches
/// come out in order (0, 1, 2, ...); at most <c>capacity</c> wait in the queue, so memory stays
/// bounded. An exception thrown while producing batch i is rethrown from the consumer's request for
/// batch i (with its original stack). Disposing stops the worker and disposes batches it made but
/// nobody took.
/// </summary>
public sealed class BackgroundLoader<T> : IDisposable
{
    private readonly BlockingCollection<(T? Item, ExceptionDispatchInfo? Error)> _queue;
    private readonly CancellationTokenSource _cancel = new();
    private readonly Thread _worker;
    private readonly int _count;
    private int _taken;
    private bool _disposed;

    /// <param name="count">Number of batches to produce.</param>
    /// <param name="produce">Makes batch i; called on the worker thread in order.</param>
    /// <param name="capacity">Batches prepared ahead (1 or 2 is typical).</param>
    public BackgroundLoader(int count, Func<int, T> produce, int capacity = 2)
    {
        ArgumentNullException.ThrowIfNull(produce);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _count = count;
        _queue = new BlockingCollection<(T?, ExceptionDispatchInfo?)>(capacity);
        var token = _cancel.Token;
        _worker = new Thread(() => Run(produce, token)) { IsBackground = true, Name = "tessera-loader" };
        _worker.Start();
    }

    public int Count => _count;

    private void Run(Func<int, T> produce, CancellationToken token)
    {
        try
        {
            for (int i = 0; i < _count && !token.IsCancellationRequested; i++)
            {
                T item;
                try
                {
                    item = produce(i);
                }
                catch (Exception e)
                {
                    _queue.Add((default, ExceptionDispatchInfo.Capture(e)), token);
                    return;
                }
                try
                {
                    _queue.Add((item, null), token);
                }
                catch (OperationCanceledException)
                {
                    (item as IDisposable)?.Dispose();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposal while waiting for room in the queue: stop quietly.
        }
        finally
        {
            _queue.CompleteAdding();
        }
    }

    /// <summary>The next batch; false when all <see cref="Count"/> batches were taken. Rethrows the producer's exception.</summary>
    public bool TryNext(out T item)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        item = default!;
        if (_taken >= _count) return false;
        if (!_queue.TryTake(out var entry, Timeout.Infinite))
            return false;
        _taken++;
        if (entry.Error is not null)
        {
            _taken = _count;
            entry.Error.Throw();
        }
        item = entry.Item!;
        return true;
    }

    /// <summary>All remaining batches in order.</summary>
    public IEnumerable<T> Batches()
    {
        while (TryNext(out var item)) yield return item;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _cancel.Cancel();
        _worker.Join();
        while (_queue.TryTake(out var entry)) (entry.Item as IDisposable)?.Dispose();
        _queue.Dispose();
        _cancel.Dispose();
    }
}
