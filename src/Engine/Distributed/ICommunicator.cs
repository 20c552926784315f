namespace Tessera.Engine.Distributed;

/// <summary>How <see cref="ICommunicator.AllReduce{T}"/> combines the ranks' values.</summary>
public enum ReduceOp
{
    Sum,
    Min,
    Max,
}

/// <summary>
/// The collectives Tessera's multi-process training uses, over one group of ranks (processes).
/// Every rank must call the same collectives in the same order with the same element counts:
/// this is MPI's contract, and a mismatch is a bug in the caller (it hangs or aborts the job).
/// Open MPI implements it today (<see cref="MpiCommunicator"/>); a NCCL implementation for GPU
/// tensors can take the same interface (docs/DISTRIBUTED.md). One process alone is
/// <see cref="SingleProcessCommunicator"/>.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index in the group, 0 .. <see cref="Size"/> - 1.</summary>
    int Rank { get; }

    /// <summary>Number of ranks in the group.</summary>
    int Size { get; }

    /// <summary>What runs the collectives ("single process", "Open MPI 4.1.4"), for logs.</summary>
    string Description { get; }

    /// <summary>
    /// Replaces <paramref name="values"/> on every rank by the element-wise reduction over all ranks
    /// (float, double or long). The result is the same bits on every rank.
    /// </summary>
    void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged;

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into every rank's <paramref name="data"/>.</summary>
    void Broadcast(Span<byte> data, int root);

    /// <summary>
    /// Every rank contributes <paramref name="local"/> (the same length on every rank); every rank
    /// receives all contributions in rank order in <paramref name="all"/> (Size × local.Length bytes).
    /// </summary>
    void AllGather(ReadOnlySpan<byte> local, Span<byte> all);

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>Stops every rank of the job at once (after printing <paramref name="message"/> on stderr); does not return.</summary>
    void Abort(string message, int exitCode = 3);
}

/// <summary>One process: every collective is the identity; the default when training is not distributed.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public static SingleProcessCommunicator Instance { get; } = new();

    public int Rank => 0;

    public int Size => 1;

    public string Description => "single process";

    public void AllReduce<T>(Span<T> values, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged => CommunicatorChecks.CheckElementType<T>();

    public void Broadcast(Span<byte> data, int root) => CommunicatorChecks.CheckRoot(root, 1);

    public void AllGather(ReadOnlySpan<byte> local, Span<byte> all)
    {
        CommunicatorChecks.CheckGather(local.Length, all.Length, 1);
        local.CopyTo(all);
    }

    public void Barrier()
    {
    }

    public void Abort(string message, int exitCode = 3)
    {
        Console.Error.WriteLine(message);
        Environment.Exit(exitCode);
    }

    public void Dispose()
    {
    }
}

/// <summary>Argument checks every communicator shares, so both fail the same way.</summary>
internal static class CommunicatorChecks
{
    public static void CheckElementType<T>()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double) && typeof(T) != typeof(long))
            throw new ArgumentException($"AllReduce: expected float, double or long elements, found {typeof(T).Name}");
    }

    public static void CheckRoot(int root, int size)
    {
        if (root < 0 || root >= size)
            throw new ArgumentOutOfRangeException(nameof(root), root, $"Broadcast: expected a root rank in 0..{size - 1}, found {root}");
    }

    public static void CheckGather(int localLength, int allLength, int size)
    {
        if ((long)localLength * size != allLength)
            throw new ArgumentException($"AllGather: expected a receive buffer of {size} × {localLength} = {(long)localLength * size} bytes, found {allLength}");
    }
}
